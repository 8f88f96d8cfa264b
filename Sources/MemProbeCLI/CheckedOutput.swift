#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Output that is never silently lost: every write and close is checked, files are written under a temporary
/// name in the target's directory and renamed into place only when complete.
///
/// A file target is opened (its temporary file created) before any work starts, so a bad path fails at once
/// rather than after minutes of measuring; on failure the temporary file is removed and nothing is left under
/// the requested name.
final class CheckedOutputFile {
    /// The path the caller asked for.
    let path: String
    /// The temporary file in the same directory (same file system, so the rename is atomic).
    private(set) var temporaryPath: String
    private var fd: Int32

    /// Creates the temporary file next to `path`. Throws a one-line reason when `path` is a directory, its
    /// directory does not exist or is not writable.
    init(path: String) throws(CheckedOutputError) {
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw CheckedOutputError(path: path, reason: "is a directory")
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw CheckedOutputError(path: path, reason: "names no file") }
        let templateText: String = (directory == "/" ? "/" : directory + "/") + ".\(name).tmp-XXXXXX"
        var template = templateText.utf8CString
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw CheckedOutputError(path: path, reason: "cannot create a file in \(directory): \(String(cString: strerror(errno)))")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // never inherited by the workers
        // mkstemp creates 0600; a report is an ordinary file: honour the umask like fopen would.
        let mask = umask(0)
        umask(mask)
        _ = fchmod(fd, 0o666 & ~mask)
        self.path = path
        self.fd = fd
        self.temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Writes `text` completely, closes the file and renames it into place. On any failure the temporary file
    /// is removed and the error names the path and the reason.
    func commit(_ text: String) throws(CheckedOutputError) {
        guard fd >= 0 else { throw CheckedOutputError(path: path, reason: "already written") }
        let written = writeAll(fd, text)
        let closed = close(fd) == 0 ? 0 : errno
        fd = -1
        if let e = written ?? (closed != 0 ? closed : nil) {
            unlink(temporaryPath)
            throw CheckedOutputError(path: path, reason: String(cString: strerror(e)))
        }
        guard rename(temporaryPath, path) == 0 else {
            let e = errno
            unlink(temporaryPath)
            throw CheckedOutputError(path: path, reason: "rename: \(String(cString: strerror(e)))")
        }
    }

    /// Removes the temporary file without touching `path` (the run failed or was interrupted).
    func abandon() {
        if fd >= 0 {
            close(fd)
            fd = -1
            unlink(temporaryPath)
        }
    }

    deinit { abandon() }
}

/// A write that failed: the target and the reason, printed as one line.
struct CheckedOutputError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { "cannot write \(path): \(reason)" }
}

/// Writes all of `text` to `fd`, retrying short writes and EINTR. Returns nil, or the errno of the failure.
func writeAll(_ fd: Int32, _ text: String) -> Int32? {
    var bytes = Array(text.utf8)
    return bytes.withUnsafeMutableBytes { raw -> Int32? in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if n == 0 { return EIO }
            offset += n
        }
        return nil
    }
}

/// Writes `text` to standard output with checked writes (no stdio buffer that could fail unseen at exit).
/// A failure (a full disk, `/dev/full`, a closed pipe) prints one line naming `command` and exits 1.
func writeStandardOutput(_ text: String, command: String) throws {
    // A closed pipe must be an error we report, not a silent SIGPIPE death with a shell-dependent status.
    signal(SIGPIPE, SIG_IGN)
    fflush(stdout)
    if let e = writeAll(STDOUT_FILENO, text) {
        printError("\(command): cannot write to standard output: \(String(cString: strerror(e)))")
        throw ExitStatus.failure
    }
}

extension CheckedOutputFile {
    /// Whether two paths name the same file: the same text, or (when both exist) the same device and inode.
    static func sameTarget(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}
