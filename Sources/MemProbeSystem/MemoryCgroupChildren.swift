#if canImport(Glibc)
@preconcurrency import Glibc
#endif

extension MemoryCgroup {
    /// The names of this cgroup's child cgroups (its subdirectories), sorted. Empty when unreadable.
    public func childNames() -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The child cgroup `name` of this one (no check that it exists).
    public func child(named name: String) -> MemoryCgroup {
        MemoryCgroup(version: version, directory: directory + "/" + name)
    }
}
