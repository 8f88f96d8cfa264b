#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import SystemPackage

/// Why a `/proc` file could not be read.
///
/// The errno of `open`/`pread` on `/proc/<pid>/…` says what happened to the process, so it is mapped here once:
/// `ENOENT` at open means the pid (or the file) does not exist, `ESRCH` at open means the process has no address
/// space (zombie, kernel thread), `ESRCH` after a successful open means it exited while being read.
public enum ProcFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `ENOENT` at open: no such process (or, for a pid that exists, no such file on this kernel).
    case noSuchProcess(path: String)
    /// `ESRCH` at open: the process exists but has no address space (zombie or kernel thread).
    case noAddressSpace(path: String)
    /// `ESRCH` after open (or `ENOENT` on a later read): the process exited during the read; partial text discarded.
    case exitedDuringRead(path: String)
    /// `EACCES` or `EPERM`: the caller may not read this file (other user, non-dumpable target, hidepid).
    case notPermitted(path: String, errno: Errno)
    /// The text did not have the expected shape.
    case malformed(path: String, detail: String)
    /// Any other failed call.
    case system(SystemCallError)

    /// One line naming the file and what went wrong.
    public var description: String {
        switch self {
        case .noSuchProcess(let p): "\(p): no such process (ENOENT)"
        case .noAddressSpace(let p): "\(p): the process has no address space (zombie or kernel thread, ESRCH)"
        case .exitedDuringRead(let p): "\(p): the process exited while it was being read"
        case .notPermitted(let p, let e): "\(p): not permitted (\(e))"
        case .malformed(let p, let d): "\(p): unexpected content: \(d)"
        case .system(let e): e.description
        }
    }
}

/// Reads whole files under `/proc` through the syscall choke points (EINTR retried).
public enum ProcFile {
    /// The path of `name` in the `/proc` directory of `pid` (`nil`: `/proc/self`).
    public static func path(pid: Int32?, _ name: String) -> String {
        if let pid { return "/proc/\(pid)/\(name)" }
        return "/proc/self/\(name)"
    }

    /// Reads the whole file at `path` as text.
    ///
    /// Uses `open` + a `pread` loop until end of file. If the process exits mid-read, the partial text is
    /// discarded and ``ProcFileError/exitedDuringRead(path:)`` is thrown.
    public static func read(_ path: String) throws(ProcFileError) -> String {
        switch readText(path) {
        case .success(let text): return text
        case .failure(let f): throw f.atOpen ? mapOpenError(f.errno, path: path) : mapReadError(f.errno, path: path)
        }
    }

    /// Reads `/proc/<pid>/<name>` (`pid` nil: own process).
    public static func read(pid: Int32?, _ name: String) throws(ProcFileError) -> String {
        try read(path(pid: pid, name))
    }

    /// Why ``readText(_:)`` failed: the errno, and whether `open` or a later `pread` returned it.
    struct ReadFailure: Error {
        var errno: Errno
        var atOpen: Bool
    }

    /// The open + pread loop (EINTR retried by the choke points) with the errno left unmapped, so readers with
    /// their own error model (cgroup files) share it. Partial text is never returned.
    static func readText(_ path: String) -> Result<String, ReadFailure> {
        let fd: Int32
        switch system_openReadOnly(path) {
        case .success(let f): fd = f
        case .failure(let e): return .failure(ReadFailure(errno: e, atOpen: true))
        }
        defer { _ = system_close(fd) }  // read-only: nothing to lose at close
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let r = chunk.withUnsafeMutableBytes { system_pread(fd, $0, bytes.count) }
            switch r {
            case .success(0): return .success(String(decoding: bytes, as: UTF8.self))
            case .success(let n): bytes.append(contentsOf: chunk[0..<n])
            case .failure(let e): return .failure(ReadFailure(errno: e, atOpen: false))
            }
        }
    }

    static func mapOpenError(_ e: Errno, path: String) -> ProcFileError {
        preconditionNotProgrammerError(e, "open(\(path))")
        switch e {
        case .noSuchFileOrDirectory: return .noSuchProcess(path: path)
        case .noSuchProcess: return .noAddressSpace(path: path)
        case .permissionDenied, .notPermitted: return .notPermitted(path: path, errno: e)
        default: return .system(SystemCallError(call: "open(\(path))", errno: e))
        }
    }

    static func mapReadError(_ e: Errno, path: String) -> ProcFileError {
        preconditionNotProgrammerError(e, "pread(\(path))")
        switch e {
        case .noSuchProcess, .noSuchFileOrDirectory: return .exitedDuringRead(path: path)
        case .permissionDenied, .notPermitted: return .notPermitted(path: path, errno: e)
        default: return .system(SystemCallError(call: "pread(\(path))", errno: e))
        }
    }
}
