#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem

/// Where published-stats files live: `/dev/shm/memprobe-<uid>/<pid>.stats` (tmpfs, one owner-only directory per
/// user, like the JVM's hsperfdata), and the environment variables that change it.
package enum PublishedStatsLocation {
    /// Set to `0`, `off`, `false` or `no` to publish nothing.
    package static let optOutVariable = "MEMPROBE_PUBLISH"
    /// Replaces `/dev/shm` as the parent of the per-user directories (tests, systems without /dev/shm).
    package static let baseVariable = "MEMPROBE_STATS_DIR"

    package static var isOptedOut: Bool {
        guard let raw = getenv(optOutVariable) else { return false }
        return ["0", "off", "false", "no"].contains(String(cString: raw).trimmingSpaces.lowercased())
    }

    package static var base: String {
        if let raw = getenv(baseVariable) {
            let s = String(cString: raw)
            if !s.isEmpty { return s.count > 1 && s.hasSuffix("/") ? String(s.dropLast()) : s }
        }
        return "/dev/shm"
    }

    package static func directory(uid: uid_t) -> String { "\(base)/memprobe-\(uid)" }

    package static func path(pid: Int32, uid: uid_t) -> String { "\(directory(uid: uid))/\(pid).stats" }

    /// The owner of process `pid` (the owner of `/proc/<pid>`), nil when it is gone.
    package static func owner(ofProcess pid: Int32) -> uid_t? {
        (try? FileSystem.status(ofPath: "/proc/\(pid)"))?.ownerID
    }
}

/// A process's start time, `/proc/<pid>/stat` field 22 (clock ticks after boot): with the pid, it names one
/// process for good (a reused pid has a later start time).
package enum ProcessStartTime {
    package static func read(pid: Int32?) -> UInt64? {
        guard let text = try? ProcFile.read(pid: pid, "stat") else { return nil }
        return parse(text)
    }

    /// Parses the text of `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so
    /// fields are counted after its last `)`.
    package static func parse(_ text: String) -> UInt64? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state): field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }
}
