extension MemoryCgroup {
    /// The names of this cgroup's child cgroups (its subdirectories), sorted. Empty when unreadable.
    public func childNames() -> [String] {
        guard let entries = try? FileSystem.directoryEntries(directory) else { return [] }
        return entries.filter { $0.kind == .directory }.map(\.name).sorted()
    }

    /// The child cgroup `name` of this one (no check that it exists).
    public func child(named name: String) -> MemoryCgroup {
        MemoryCgroup(version: version, directory: directory + "/" + name)
    }
}
