import MemProbe
import MemProbeSystem

/// Room left under the tightest memory limit that encloses this process (a pod's, a systemd slice's).
///
/// MemAvailable is the machine's view; inside a limited cgroup a child that fits the machine is still
/// OOM-killed at the cgroup's limit. Walks from our own memory cgroup up to the hierarchy's root and keeps
/// the least `limit − working set` (working set = usage − inactive file cache, hierarchical on both versions).
struct EnclosingCgroupHeadroom {
    var directory: String
    var limit: Int
    var headroom: Int

    static func current() -> EnclosingCgroupHeadroom? {
        guard var group = try? MemoryCgroup.current() else { return nil }
        var best: EnclosingCgroupHeadroom?
        while true {
            if let limit = try? group.limit(), let usage = try? group.usage(), let stat = try? group.stat() {
                let inactive = (group.version == .v1 ? stat["total_inactive_file"] : nil) ?? stat.inactiveFile ?? 0
                let headroom = max(0, limit - max(0, usage - inactive))
                if best.map({ headroom < $0.headroom }) ?? true {
                    best = EnclosingCgroupHeadroom(directory: group.directory, limit: limit, headroom: headroom)
                }
            }
            guard let slash = group.directory.lastIndex(of: "/"), slash != group.directory.startIndex,
                  let parent = try? MemoryCgroup(directory: String(group.directory[..<slash]))
            else { break }
            group = parent
        }
        return best
    }
}
