#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem

/// Output that is never silently lost: every write, the fsync and the close are checked, files are written under a
/// temporary name in the target's directory and renamed into place only when complete (the system layer's
/// ``ReplacementFile``, whose calls go through its choke points).
///
/// A file target is opened (its temporary file created) before any work starts, so a bad path fails at once
/// rather than after minutes of measuring; on failure the temporary file is removed and nothing is left under
/// the requested name. Text can be written in one piece at the end (`commit(_:)`) or as it comes (`write(_:)`,
/// then `commit()`), e.g. a record that grows while a watch runs.
final class CheckedOutputFile {
    /// The path the caller asked for.
    let path: String
    /// Where the file is renamed to: `path`, or the file a symbolic link at `path` points to (the link stays).
    let destination: String
    /// The temporary file in the destination's directory (same file system, so the rename is atomic).
    var temporaryPath: String { file.temporaryPath }
    private let file: ReplacementFile

    /// Creates the temporary file next to `path`. Throws a one-line reason (``CheckedOutputTarget/check(_:)``) when
    /// `path` is a directory or another non-regular file, or its directory does not exist or is not writable.
    init(path: String) throws(CheckedOutputError) {
        let target = try CheckedOutputTarget.check(path)
        do {
            // 0666 before the umask: a report is an ordinary file, as fopen would make it.
            file = try ReplacementFile(replacing: target.destination, permissions: 0o666)
        } catch {
            throw CheckedOutputError(path: path, reason: "cannot create a file in \(target.directory): \(Self.reason(error))")
        }
        self.path = path
        self.destination = target.destination
    }

    /// Appends `text` to the temporary file. On failure the temporary file is removed, and the error names the
    /// path and the reason; the file can then only be abandoned.
    func write(_ text: String) throws(CheckedOutputError) {
        var bytes = Array(text.utf8)
        let written = bytes.withUnsafeMutableBytes { raw in
            Result { () throws(SystemCallError) in try file.write(UnsafeRawBufferPointer(raw)) }
        }
        do { try written.get() } catch { throw CheckedOutputError(path: path, reason: Self.reason(error)) }
    }

    /// Writes `text` completely, fsyncs and closes the file and renames it into place. On any failure the
    /// temporary file is removed and the error names the path and the reason.
    func commit(_ text: String = "") throws(CheckedOutputError) {
        if !text.isEmpty { try write(text) }
        do {
            try file.commit()
        } catch {
            throw CheckedOutputError(path: path, reason: (error.call.hasPrefix("rename") ? "rename: " : "") + Self.reason(error))
        }
    }

    /// Removes the temporary file without touching `path` (the run failed or was interrupted).
    func abandon() { file.abandon() }

    private static func reason(_ error: SystemCallError) -> String { String(cString: strerror(error.errno.rawValue)) }
}

/// A write that failed: the target and the reason, printed as one line.
struct CheckedOutputError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { "cannot write \(path): \(reason)" }
}

/// Where a file named on the command line would be written, checked before any work: the path names a regular file
/// or nothing yet, in a directory that exists and may be written.
///
/// Shared by ``CheckedOutputFile`` and `memprobe profile <pid> -o FILE` (where the target process writes the file,
/// but a bad path must still fail before the request is sent).
struct CheckedOutputTarget {
    /// The path as given.
    var path: String
    /// The path the new file is renamed to (a symbolic link's target, resolved; else `path`).
    var destination: String
    /// The destination's directory and file name.
    var directory: String
    var name: String
    /// The existing file's identity, when one is there (it is replaced, never appended to).
    var existing: FileIdentity?

    var directoryPrefix: String { directory == "/" ? "/" : directory + "/" }

    /// Checks `path`. Throws a one-line reason for: an empty path or one ending in `/`; a directory; an existing
    /// device, pipe or socket (renaming over `/dev/null` would replace the device node); a symbolic link to
    /// nothing; a directory part that does not exist, is not a directory or may not be written.
    static func check(_ path: String) throws(CheckedOutputError) -> CheckedOutputTarget {
        func fail(_ reason: String) -> CheckedOutputError { CheckedOutputError(path: path, reason: reason) }
        guard !path.isEmpty else { throw fail("names no file") }
        var destination = path
        var st = stat()
        var lst = stat()
        if lstat(path, &lst) == 0 {
            if stat(path, &st) != 0 {
                throw fail((lst.st_mode & S_IFMT) == S_IFLNK ? "is a symbolic link to nothing" : String(cString: strerror(errno)))
            }
            if (st.st_mode & S_IFMT) == S_IFDIR { throw fail("is a directory") }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                throw fail("is not a regular file (output is written to a temporary file and renamed into place)")
            }
            if (lst.st_mode & S_IFMT) == S_IFLNK {
                // Write through the link: the file it names is replaced, the link stays.
                guard let resolved = realpath(path, nil) else { throw fail(String(cString: strerror(errno))) }
                destination = String(cString: resolved)
                free(resolved)
            }
        } else if errno != ENOENT {
            throw fail(String(cString: strerror(errno)))
        }
        if path.hasSuffix("/") { throw fail("names a directory, not a file") }
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { $0 == destination.startIndex ? "/" : String(destination[..<$0]) } ?? "."
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        var dst = stat()
        guard stat(directory, &dst) == 0 else {
            let e = errno
            throw fail(e == ENOENT ? "directory \(directory) does not exist" : "\(directory): \(String(cString: strerror(e)))")
        }
        guard (dst.st_mode & S_IFMT) == S_IFDIR else { throw fail("\(directory) is not a directory") }
        guard access(directory, W_OK) == 0 else {
            throw fail("cannot create a file in \(directory): \(String(cString: strerror(errno)))")
        }
        return CheckedOutputTarget(
            path: path, destination: destination, directory: directory, name: name, existing: FileIdentity.of(destination))
    }
}

/// Enough of a file's `stat` to tell whether it was replaced or rewritten since.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int
    var modified: timespec
    var changed: timespec

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int(st.st_size)
        modified = st.st_mtim
        changed = st.st_ctim
    }

    /// The identity of the file at `path` now (following links), or nil when there is none.
    static func of(_ path: String) -> FileIdentity? {
        var st = stat()
        return stat(path, &st) == 0 ? FileIdentity(st) : nil
    }

    static func == (a: FileIdentity, b: FileIdentity) -> Bool {
        a.device == b.device && a.inode == b.inode && a.size == b.size
            && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
            && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
    }
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
    /// Whether two paths name the same file: the same text; or, when both exist, the same device and inode; or,
    /// when either does not exist yet, the same name in the same directory (`F` and `./F`, `dir/../F`).
    static func sameTarget(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        var sa = stat(), sb = stat()
        let aExists = stat(a, &sa) == 0, bExists = stat(b, &sb) == 0
        if aExists && bExists { return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
        func place(_ p: String) -> (dev: UInt64, ino: UInt64, name: Substring)? {
            let slash = p.lastIndex(of: "/")
            let directory = slash.map { $0 == p.startIndex ? "/" : String(p[..<$0]) } ?? "."
            let name = slash.map { p[p.index(after: $0)...] } ?? p[...]
            var st = stat()
            guard !name.isEmpty, stat(directory, &st) == 0 else { return nil }
            return (UInt64(st.st_dev), UInt64(st.st_ino), name)
        }
        guard let pa = place(a), let pb = place(b) else { return false }
        return pa.dev == pb.dev && pa.ino == pb.ino && pa.name == pb.name
    }
}
