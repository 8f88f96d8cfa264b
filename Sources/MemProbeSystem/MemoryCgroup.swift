#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import SystemPackage

/// Which cgroup hierarchy holds a memory cgroup's files.
public enum CgroupVersion: String, Sendable, Hashable, Codable {
    /// The legacy hierarchy: `memory.usage_in_bytes`, `memory.limit_in_bytes`, `memory.oom_control`.
    case v1
    /// The unified hierarchy: `memory.current`, `memory.max`, `memory.events`.
    case v2
}

/// What can go wrong when finding, reading or managing a memory cgroup.
public enum MemoryCgroupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `/proc/<pid>/cgroup` does not exist: no such process (or it exited).
    case processNotFound(pid: Int32)
    /// The process is in no memory cgroup this kernel exposes (no v1 `memory` line, or a v2 cgroup
    /// without `memory.current`), with the reason.
    case noMemoryController(pid: Int32, reason: String)
    /// A directory given as a cgroup has neither `memory.usage_in_bytes` (v1) nor `memory.current` (v2).
    case notAMemoryCgroup(directory: String)
    /// A file of the cgroup (or of `/proc`) could not be opened, read, written, created or removed.
    case file(path: String, SystemCallError)
    /// A file held text the kernel does not write.
    case malformed(path: String, text: String)
    /// A child cgroup name that is empty, `.`, `..` or contains `/`.
    case invalidName(String)
    /// Creating or changing cgroups is not possible here, with the reason.
    case managementUnavailable(reason: String)
    /// `rmdir` kept failing with `EBUSY` because processes were still in the cgroup.
    case stillInUse(path: String, processes: [Int32])

    public var description: String {
        switch self {
        case .processNotFound(let pid): "no such process: \(pid)"
        case .noMemoryController(let pid, let reason): "process \(pid) has no memory cgroup: \(reason)"
        case .file(let path, let e): "\(path): \(e)"
        case .malformed(let path, let text): "\(path): unexpected content \"\(text.prefix(80))\""
        case .notAMemoryCgroup(let dir): "\(dir) is not a memory cgroup (neither memory.usage_in_bytes nor memory.current)"
        case .invalidName(let name): "invalid cgroup name \"\(name)\" (must be non-empty, not . or .., without /)"
        case .managementUnavailable(let reason): "cannot manage memory cgroups here: \(reason)"
        case .stillInUse(let path, let pids): "\(path) still holds processes \(pids)"
        }
    }
}

/// A memory cgroup (v1 or v2): where a process's memory is charged, limited and OOM-killed.
///
/// Find the cgroup of a process with ``current()`` or ``of(pid:)``, then read its figures with
/// ``usage()``, ``limit()``, ``stat()``, ``oomKillCount()`` or all at once with ``snapshot()``.
/// The working set (`usage − inactive_file`) is what the kubelet evicts on; lazily freed pages sit on the
/// inactive-file list, so they are outside the working set while still inside RSS and usage.
///
/// Management (``createChild(named:limitBytes:)``, ``setLimit(bytes:)``, ``addProcess(_:)``, ``remove(timeout:)``)
/// needs root; check ``managementSupport(under:)`` first.
public struct MemoryCgroup: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The hierarchy the cgroup lives in.
    public let version: CgroupVersion
    /// The cgroup's directory, e.g. `/sys/fs/cgroup/memory/user.slice`.
    public let directory: String

    /// A cgroup at a known directory. The version is detected from its files
    /// (`memory.usage_in_bytes` → v1, `memory.current` → v2).
    public init(directory: String) throws(MemoryCgroupError) {
        let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        if cgroupFileExists(dir + "/memory.usage_in_bytes") {
            self.init(version: .v1, directory: dir)
        } else if cgroupFileExists(dir + "/memory.current") {
            self.init(version: .v2, directory: dir)
        } else {
            throw .notAMemoryCgroup(directory: dir)
        }
    }

    init(version: CgroupVersion, directory: String) {
        self.version = version
        self.directory = directory
    }

    public var description: String { "\(directory) (cgroup \(version.rawValue))" }

    /// The memory cgroup of the calling process.
    public static func current() throws(MemoryCgroupError) -> MemoryCgroup {
        try of(pid: getpid())
    }

    /// The memory cgroup of `pid`, from `/proc/<pid>/cgroup` and the cgroup mounts of `/proc/self/mountinfo`.
    ///
    /// A v1 `memory` controller line wins; otherwise the v2 `0::` line is used when that cgroup has
    /// `memory.current` (a v2 hierarchy without the memory controller, or the v2 root, has none).
    public static func of(pid: Int32) throws(MemoryCgroupError) -> MemoryCgroup {
        let procPath = "/proc/\(pid)/cgroup"
        let text: String
        switch cgroupReadText(procPath) {
        case .success(let t): text = t
        case .failure(let e):
            if e == .noSuchFileOrDirectory || e == .noSuchProcess { throw .processNotFound(pid: pid) }
            throw .file(path: procPath, SystemCallError(call: "read(\(procPath))", errno: e))
        }
        let entries = parseProcCgroup(text)
        let mounts = (try? cgroupReadText("/proc/self/mountinfo").get()).map(parseCgroupMounts) ?? []

        if let v1 = entries.first(where: { $0.controllers.contains("memory") }) {
            let mount = mounts.first { $0.version == .v1 && $0.superOptions.contains("memory") }
            let dir = joinCgroupPath(
                mountPoint: mount?.mountPoint ?? "/sys/fs/cgroup/memory", mountRoot: mount?.root ?? "/", path: v1.path)
            guard cgroupFileExists(dir + "/memory.usage_in_bytes") else {
                throw .noMemoryController(pid: pid, reason: "\(dir)/memory.usage_in_bytes does not exist")
            }
            return MemoryCgroup(version: .v1, directory: dir)
        }
        guard let v2 = entries.first(where: { $0.hierarchyID == 0 && $0.controllers.isEmpty }) else {
            throw .noMemoryController(pid: pid, reason: "\(procPath) has no memory controller line and no v2 (0::) line")
        }
        let mount = mounts.first { $0.version == .v2 }
        let dir = joinCgroupPath(mountPoint: mount?.mountPoint ?? "/sys/fs/cgroup", mountRoot: mount?.root ?? "/", path: v2.path)
        guard cgroupFileExists(dir + "/memory.current") else {
            throw .noMemoryController(pid: pid, reason: "v2 cgroup \(dir) has no memory.current (memory controller not enabled there)")
        }
        return MemoryCgroup(version: .v2, directory: dir)
    }

    // MARK: Reading

    /// Bytes charged to the cgroup (v1 `memory.usage_in_bytes`, v2 `memory.current`), page cache included.
    public func usage() throws(MemoryCgroupError) -> Int {
        try readInteger(version == .v1 ? "memory.usage_in_bytes" : "memory.current")
    }

    /// The cgroup's own hard limit in bytes, or `nil` when it is unlimited
    /// (v1 `memory.limit_in_bytes` at its huge "no limit" value, v2 `memory.max` = `max`).
    /// An ancestor may still limit it: see ``effectiveLimit()``.
    public func limit() throws(MemoryCgroupError) -> Int? {
        try readLimit(version == .v1 ? "memory.limit_in_bytes" : "memory.max")
    }

    /// The tightest limit of the cgroup and its ancestors, or `nil` when none is limited
    /// (v1: `hierarchical_memory_limit` of `memory.stat`; v2: the least `memory.max` up the tree).
    public func effectiveLimit() throws(MemoryCgroupError) -> Int? {
        switch version {
        case .v1:
            guard let h = try stat()["hierarchical_memory_limit"] else { return try limit() }
            return h >= Self.unlimitedThreshold ? nil : h
        case .v2:
            var best = try limit()
            var dir = directory
            while let slash = dir.lastIndex(of: "/"), slash != dir.startIndex {
                dir = String(dir[..<slash])
                guard cgroupFileExists(dir + "/memory.max") else { break }
                if let l = try MemoryCgroup(version: .v2, directory: dir).limit() { best = min(best ?? l, l) }
            }
            return best
        }
    }

    /// Every key of `memory.stat`.
    public func stat() throws(MemoryCgroupError) -> MemoryCgroupStat {
        let path = directory + "/memory.stat"
        return MemoryCgroupStat(parsing: try readText(path), version: version)
    }

    /// How many processes the OOM killer killed in this cgroup (v1 `memory.oom_control`, v2 `memory.events`,
    /// key `oom_kill`), or `nil` when the kernel does not report it (v1 before Linux 4.13).
    public func oomKillCount() throws(MemoryCgroupError) -> Int? {
        let text = try readText(directory + (version == .v1 ? "/memory.oom_control" : "/memory.events"))
        return parseKeyValues(text)["oom_kill"]
    }

    /// How many times a charge hit the limit: v1 `memory.failcnt`; v2 the `max` count of `memory.events`.
    public func failCount() throws(MemoryCgroupError) -> Int? {
        switch version {
        case .v1: return try readInteger("memory.failcnt")
        case .v2: return parseKeyValues(try readText(directory + "/memory.events"))["max"]
        }
    }

    /// The processes in the cgroup (`cgroup.procs`).
    public func processes() throws(MemoryCgroupError) -> [Int32] {
        try readText(directory + "/cgroup.procs").split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
    }

    /// Usage, limit, working set, headroom, OOM kills and `memory.stat`, read together.
    public func snapshot() throws(MemoryCgroupError) -> MemoryCgroupSnapshot {
        let stat = try stat()
        let usage = try usage()
        let limit = try limit()
        return MemoryCgroupSnapshot(
            version: version, directory: directory, usage: usage, limit: limit,
            effectiveLimit: try effectiveLimit(), stat: stat,
            oomKills: try oomKillCount(), failCount: try failCount())
    }

    // MARK: Helpers

    /// v1 reports "no limit" as PAGE_COUNTER_MAX × page size (≈ 2^63); anything this large is unlimited.
    static let unlimitedThreshold = 1 << 62

    func readText(_ path: String) throws(MemoryCgroupError) -> String {
        switch cgroupReadText(path) {
        case .success(let t): return t
        case .failure(let e): throw .file(path: path, SystemCallError(call: "read(\(path))", errno: e))
        }
    }

    func readInteger(_ name: String) throws(MemoryCgroupError) -> Int {
        let path = directory + "/" + name
        let text = try readText(path)
        guard let v = Int(trimmed(text)) else { throw .malformed(path: path, text: text) }
        return v
    }

    func readLimit(_ name: String) throws(MemoryCgroupError) -> Int? {
        let path = directory + "/" + name
        let text = try readText(path)
        let t = trimmed(text)
        if t == "max" { return nil }
        // v1 may print -1 on some kernels; an unsigned overflow also means "no limit".
        if t == "-1" { return nil }
        guard let v = Int(t) else {
            if UInt64(t) != nil { return nil }
            throw .malformed(path: path, text: text)
        }
        return v >= Self.unlimitedThreshold ? nil : v
    }
}

// MARK: Parsing (internal so tests can feed captured text)

/// One line of `/proc/<pid>/cgroup`: `hierarchy-ID:controller-list:cgroup-path`.
struct ProcCgroupEntry: Hashable, Sendable {
    var hierarchyID: Int
    var controllers: [String]
    var path: String
}

func parseProcCgroup(_ text: String) -> [ProcCgroupEntry] {
    text.split(separator: "\n").compactMap { line in
        // The path may itself contain ':', so split only twice.
        let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let id = Int(parts[0]) else { return nil }
        let controllers = parts[1].split(separator: ",").map(String.init)
        return ProcCgroupEntry(hierarchyID: id, controllers: controllers, path: String(parts[2]))
    }
}

/// A cgroup file system from `/proc/self/mountinfo`.
struct CgroupMount: Hashable, Sendable {
    var version: CgroupVersion
    var root: String
    var mountPoint: String
    var superOptions: [String]
}

/// mountinfo line: `id parent maj:min root mount-point options [optional…] - fstype source super-options`.
func parseCgroupMounts(_ text: String) -> [CgroupMount] {
    text.split(separator: "\n").compactMap { line in
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 7, let dash = f.firstIndex(of: "-"), dash + 3 <= f.count else { return nil }
        let fstype = f[dash + 1]
        let version: CgroupVersion
        switch fstype {
        case "cgroup": version = .v1
        case "cgroup2": version = .v2
        default: return nil
        }
        let superOptions = dash + 3 < f.count ? f[dash + 3].split(separator: ",").map(String.init) : []
        return CgroupMount(
            version: version, root: unescapeMountField(f[3]), mountPoint: unescapeMountField(f[4]),
            superOptions: superOptions)
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
func unescapeMountField(_ s: Substring) -> String {
    guard s.contains("\\") else { return String(s) }
    var bytes: [UInt8] = []
    var u = Array(s.utf8)[...]
    while let b = u.first {
        if b == UInt8(ascii: "\\"), u.count >= 4,
            let v = UInt8(String(decoding: u.dropFirst().prefix(3), as: UTF8.self), radix: 8)
        {
            bytes.append(v)
            u = u.dropFirst(4)
        } else {
            bytes.append(b)
            u = u.dropFirst()
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Directory of cgroup `path` (as /proc/<pid>/cgroup shows it) under a mount of `mountRoot` at `mountPoint`.
func joinCgroupPath(mountPoint: String, mountRoot: String, path: String) -> String {
    var rel = path
    if mountRoot != "/", rel.hasPrefix(mountRoot) {
        rel = String(rel.dropFirst(mountRoot.count))
    }
    if rel.isEmpty || rel == "/" { return mountPoint }
    return mountPoint + (rel.hasPrefix("/") ? rel : "/" + rel)
}

/// `key value` lines (memory.stat, memory.events, memory.oom_control); lines that do not parse are skipped.
func parseKeyValues(_ text: String) -> [String: Int] {
    var out: [String: Int] = [:]
    for line in text.split(separator: "\n") {
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count == 2 else { continue }
        if let v = Int(f[1]) {
            out[String(f[0])] = v
        } else if let u = UInt64(f[1]) {
            out[String(f[0])] = u > UInt64(Int.max) ? Int.max : Int(u)
        }
    }
    return out
}

func trimmed(_ s: String) -> Substring {
    var t = s[...]
    while let c = t.last, c.isWhitespace { t = t.dropLast() }
    while let c = t.first, c.isWhitespace { t = t.dropFirst() }
    return t
}

// MARK: Small-file reading

/// Reads a small /proc or cgroup file through ProcFile's open + pread loop, keeping the raw errno
/// (cgroup files map it to ``MemoryCgroupError`` with the path).
func cgroupReadText(_ path: String) -> Result<String, Errno> {
    ProcFile.readText(path).mapError(\.errno)
}

func cgroupFileExists(_ path: String) -> Bool {
    if case .success = system_access(path, F_OK) { return true }
    return false
}
