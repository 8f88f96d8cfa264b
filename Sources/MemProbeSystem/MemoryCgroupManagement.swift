#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import SystemPackage

/// Whether memory cgroups can be created here, and if not, why.
public enum CgroupManagementSupport: Sendable, Hashable, CustomStringConvertible {
    /// Child cgroups can be created under the given parent.
    case available(parent: MemoryCgroup)
    /// They cannot; the reason says why (not root, no memory controller, read-only, …).
    case unavailable(reason: String)

    /// The parent to create children under, when available.
    public var parent: MemoryCgroup? {
        if case .available(let p) = self { return p }
        return nil
    }

    public var description: String {
        switch self {
        case .available(let p): "memory cgroups can be created under \(p.directory)"
        case .unavailable(let r): "memory cgroups cannot be created: \(r)"
        }
    }
}

extension MemoryCgroup {
    /// Checks whether child memory cgroups can be created under `parent` (default: the caller's own memory
    /// cgroup, so processes are never moved out of the cgroup the caller runs in).
    ///
    /// Tries a real `mkdir`/`rmdir` of a probe directory, so "read-only" and "not permitted" are found as
    /// the kernel reports them.
    public static func managementSupport(under parent: MemoryCgroup? = nil) -> CgroupManagementSupport {
        let p: MemoryCgroup
        if let parent {
            p = parent
        } else {
            do { p = try current() } catch { return .unavailable(reason: error.description) }
        }
        if geteuid() != 0, case .failure = system_access(p.directory, W_OK) {
            return .unavailable(reason: "not root (euid \(geteuid())) and \(p.directory) is not writable (not delegated to this user)")
        }
        if p.version == .v2 {
            let controllers = (try? p.readText(p.directory + "/cgroup.controllers")) ?? ""
            if !controllers.split(whereSeparator: \.isWhitespace).contains("memory") {
                return .unavailable(reason: "\(p.directory)/cgroup.controllers lacks the memory controller")
            }
            // v2 "no internal processes": memory cannot be enabled for children while this cgroup holds processes.
            let enabled = (try? p.readText(p.directory + "/cgroup.subtree_control")) ?? ""
            if !enabled.split(whereSeparator: \.isWhitespace).contains("memory"), let pids = try? p.processes(), !pids.isEmpty {
                return .unavailable(
                    reason: "\(p.directory) holds processes, so the memory controller cannot be enabled for its children (cgroup v2 no-internal-processes rule)")
            }
        }
        // Unique per call: concurrent checks in one process must not collide.
        let probe = p.directory + "/.memprobe-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        switch cgroupModify(.makeDirectory(probe)) {
        case .success:
            _ = cgroupModify(.removeDirectory(probe))
            return .available(parent: p)
        case .failure(let e):
            let why: String = switch e {
            case .readOnlyFileSystem: "the cgroup file system is read-only"
            case .permissionDenied, .notPermitted: "not permitted (\(e)); needs root or a delegated cgroup"
            default: "mkdir \(probe): \(e)"
            }
            return .unavailable(reason: why)
        }
    }

    /// Creates a child cgroup of this one and sets its limit.
    ///
    /// On v2, `+memory` is written to this cgroup's `cgroup.subtree_control` first; that fails with
    /// `EBUSY` while this cgroup holds processes itself (the "no internal processes" rule).
    /// - Parameters:
    ///   - name: the directory name (no `/`).
    ///   - limitBytes: the hard limit, `nil` for none.
    /// - Throws: ``MemoryCgroupError/file(path:_:)`` with `EEXIST` when it exists, `EACCES`/`EROFS` when not permitted.
    public func createChild(named name: String, limitBytes: Int?) throws(MemoryCgroupError) -> MemoryCgroup {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/") else { throw .invalidName(name) }
        if version == .v2 {
            let control = directory + "/cgroup.subtree_control"
            let enabled = (try? readText(control)) ?? ""
            if !enabled.split(whereSeparator: \.isWhitespace).contains("memory") {
                try modify(.write(path: control, text: "+memory"), call: "write(+memory)")
            }
        }
        let dir = directory + "/" + name
        try modify(.makeDirectory(dir), call: "mkdir")
        let child = MemoryCgroup(version: version, directory: dir)
        do {
            try child.setLimit(bytes: limitBytes)
        } catch {
            _ = cgroupModify(.removeDirectory(dir))
            throw error
        }
        return child
    }

    /// Sets the hard limit (v1 `memory.limit_in_bytes`, v2 `memory.max`); `nil` removes it.
    ///
    /// Lowering it below the usage makes the kernel reclaim at once; v1 answers `EBUSY` when it cannot.
    public func setLimit(bytes: Int?) throws(MemoryCgroupError) {
        let file = version == .v1 ? "memory.limit_in_bytes" : "memory.max"
        let text = bytes.map(String.init) ?? (version == .v1 ? "-1" : "max")
        try modify(.write(path: directory + "/" + file, text: text), call: "write(\(text))")
    }

    /// Moves process `pid` into this cgroup (`cgroup.procs`). Its future charges go here.
    public func addProcess(_ pid: Int32) throws(MemoryCgroupError) {
        try modify(.write(path: directory + "/cgroup.procs", text: String(pid)), call: "write(\(pid))")
    }

    /// Removes this (empty) cgroup with `rmdir`, retrying `EBUSY` until `timeout` while its processes exit.
    /// Removing a cgroup that is already gone is not an error.
    public func remove(timeout: Duration = .seconds(2)) throws(MemoryCgroupError) {
        let (s, atto) = timeout.components
        let deadline = monotonicNanoseconds() + Int(s) * 1_000_000_000 + Int(atto / 1_000_000_000)
        while true {
            switch cgroupModify(.removeDirectory(directory)) {
            case .success: return
            case .failure(.noSuchFileOrDirectory): return
            case .failure(.resourceBusy) where monotonicNanoseconds() < deadline:
                var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
                _ = nanosleep(&ts, nil)
            case .failure(.resourceBusy):
                throw .stillInUse(path: directory, processes: (try? processes()) ?? [])
            case .failure(let e):
                throw .file(path: directory, SystemCallError(call: "rmdir", errno: e))
            }
        }
    }

    private func modify(_ op: CgroupFileSystemOperation, call: String) throws(MemoryCgroupError) {
        if case .failure(let e) = cgroupModify(op) {
            throw .file(path: op.path, SystemCallError(call: call, errno: e))
        }
    }
}

/// A change to the cgroup file system.
enum CgroupFileSystemOperation: Sendable {
    case write(path: String, text: String)
    case makeDirectory(String)
    case removeDirectory(String)

    var path: String {
        switch self {
        case .write(let p, _), .makeDirectory(let p), .removeDirectory(let p): p
        }
    }
}

/// The one place memprobe changes cgroups: write a control file in a single `write` (the kernel parses each
/// write separately), `mkdir`, `rmdir` — each through the system layer's choke points (Syscalls.swift), so
/// tests can make them fail.
func cgroupModify(_ op: CgroupFileSystemOperation) -> Result<Void, Errno> {
    switch op {
    case .makeDirectory(let path):
        return system_mkdir(path)
    case .removeDirectory(let path):
        return system_rmdir(path)
    case .write(let path, let text):
        let fd: Int32
        switch system_openWriteOnly(path) {
        case .success(let f): fd = f
        case .failure(let e): return .failure(e)
        }
        defer { _ = system_close(fd) }  // a control file refuses at write, not at close
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { buf in
            switch system_write(fd, buf) {
            case .success(let n) where n == bytes.count: .success(())
            case .success: .failure(.ioError)  // a short write to a control file: refused
            case .failure(let e): .failure(e)
            }
        }
    }
}
