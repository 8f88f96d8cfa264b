import MemProbeSystem
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `memprobe-compare-<pid>-<n>` cgroups whose run is dead (SIGKILLed, or a crash) are removed at the next start:
/// their workers are SIGKILLed (a worker of an old build may have outlived its parent) and the directory removed.
enum CompareStaleCgroups {
    static let prefix = "memprobe-compare-"

    /// The run pid in `name`, when it is one of ours.
    static func runPid(_ name: String) -> Int32? {
        guard name.hasPrefix(prefix) else { return nil }
        let parts = name.dropFirst(prefix.count).split(separator: "-")
        guard parts.count == 2, let pid = Int32(parts[0]), pid > 0, Int(parts[1]) != nil else { return nil }
        return pid
    }

    /// Whether process `pid` exists and is a memprobe (a recycled pid of another program does not count).
    static func isLiveMemprobe(_ pid: Int32) -> Bool {
        guard let comm = try? ProcFile.read(pid: pid, "comm") else { return false }
        return comm.hasPrefix("memprobe")
    }

    /// Removes the stale cgroups under `parent`; returns the directories removed and the failures.
    @discardableResult
    static func remove(under parent: MemoryCgroup) -> (removed: [String], failed: [String]) {
        var removed: [String] = [], failed: [String] = []
        for name in parent.childNames() {
            guard let pid = runPid(name), pid != getpid(), !isLiveMemprobe(pid) else { continue }
            let group = parent.child(named: name)
            for worker in (try? group.processes()) ?? [] { kill(worker, SIGKILL) }
            do {
                try group.remove(timeout: .seconds(5))
                removed.append(group.directory)
            } catch {
                failed.append("\(group.directory): \(error)")
            }
        }
        return (removed, failed)
    }
}
