#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import SystemPackage

/// An open file whose descriptor the system layer owns. Every call on it goes through the choke points, so tests
/// can inject errno; EINTR is retried; a failure is a ``SystemCallError`` naming the call, the path and the errno.
///
/// The descriptor is opened with `O_CLOEXEC` and closed exactly once: by ``close()``, which reports what the kernel
/// answered (a writer must call it: some file systems report a failed write-back only there), or else when the
/// value is released, ignoring the answer (fine for a reader).
///
/// Reads and writes at an offset (`pread`/`pwrite`) may come from several threads at once; ``close()`` must not
/// race with them.
///
/// ```swift
/// let file = try SystemFile.open("/proc/self/statm", .readOnly)
/// var buffer = [UInt8](repeating: 0, count: 256)
/// let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0, atOffset: 0) }
/// ```
public final class SystemFile {
    /// How a file is opened (`O_RDONLY`, `O_WRONLY`, `O_RDWR`).
    public enum Access: Sendable, Hashable {
        case readOnly, writeOnly, readWrite

        var flags: Int32 {
            switch self {
            case .readOnly: O_RDONLY
            case .writeOnly: O_WRONLY
            case .readWrite: O_RDWR
            }
        }
    }

    /// The path the file was opened under (used in error messages).
    public let path: String
    /// The descriptor; -1 once closed.
    private(set) var descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        if descriptor >= 0 { _ = system_close(descriptor) }
    }

    /// Opens an existing file.
    /// - Parameter followSymlinks: false adds `O_NOFOLLOW`: a symbolic link as the last component fails with
    ///   `ELOOP` instead of being followed.
    public static func open(_ path: String, _ access: Access, followSymlinks: Bool = true) throws(SystemCallError) -> SystemFile {
        let flags = access.flags | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW)
        switch system_open(path, flags) {
        case .success(let fd): return SystemFile(path: path, descriptor: fd)
        case .failure(let e): throw SystemCallError(call: "open(\(path))", errno: e)
        }
    }

    /// Creates a file that must not exist yet (`O_CREAT|O_EXCL|O_NOFOLLOW`: an existing file or symbolic link under
    /// the name fails with `EEXIST`, so nothing is ever written through a planted link).
    /// - Parameter permissions: the new file's mode before the umask, e.g. `0o600`.
    public static func createNew(_ path: String, _ access: Access, permissions: mode_t) throws(SystemCallError) -> SystemFile {
        let flags = access.flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        switch system_open(path, flags, permissions) {
        case .success(let fd): return SystemFile(path: path, descriptor: fd)
        case .failure(let e): throw SystemCallError(call: "open(\(path), O_CREAT|O_EXCL, 0\(String(permissions, radix: 8)))", errno: e)
        }
    }

    private func liveDescriptor(for call: String) -> Int32 {
        precondition(descriptor >= 0, "\(call)(\(path)) on a closed SystemFile")
        return descriptor
    }

    /// Reads up to `buffer.count` bytes at the current position (`read(2)`; pipes too). Returns the count, 0 at
    /// the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        switch system_read(liveDescriptor(for: "read"), buffer) {
        case .success(let n): return n
        case .failure(let e): throw SystemCallError(call: "read(\(path))", errno: e)
        }
    }

    /// Reads up to `buffer.count` bytes at `offset` (`pread(2)`; the position is unchanged). Returns the count,
    /// 0 at the end of the file; fewer than asked near the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer, atOffset offset: Int) throws(SystemCallError) -> Int {
        switch system_pread(liveDescriptor(for: "pread"), buffer, offset) {
        case .success(let n): return n
        case .failure(let e): throw SystemCallError(call: "pread(\(path))", errno: e)
        }
    }

    /// Writes all of `bytes` at the current position (`write(2)`, repeated after a short write).
    ///
    /// A write that makes no progress is reported as `EIO`. A full file system is `ENOSPC`, a closed pipe `EPIPE`
    /// (when SIGPIPE is ignored).
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        let fd = liveDescriptor(for: "write")
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            switch system_write(fd, rest) {
            case .success(0): throw SystemCallError(call: "write(\(path))", errno: .ioError)
            case .success(let n): done += n
            case .failure(let e): throw SystemCallError(call: "write(\(path))", errno: e)
            }
        }
    }

    /// Writes all of `bytes` at `offset` (`pwrite(2)`, repeated after a short write; the position is unchanged).
    /// A write that makes no progress is reported as `EIO`.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, atOffset offset: Int) throws(SystemCallError) {
        let fd = liveDescriptor(for: "pwrite")
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            switch system_pwrite(fd, rest, offset + done) {
            case .success(0): throw SystemCallError(call: "pwrite(\(path))", errno: .ioError)
            case .success(let n): done += n
            case .failure(let e): throw SystemCallError(call: "pwrite(\(path))", errno: e)
            }
        }
    }

    /// Sets the file's size (`ftruncate(2)`): extends it with zeros or cuts it.
    public func truncate(toByteCount byteCount: Int) throws(SystemCallError) {
        if case .failure(let e) = system_ftruncate(liveDescriptor(for: "ftruncate"), byteCount) {
            throw SystemCallError(call: "ftruncate(\(path), \(byteCount))", errno: e)
        }
    }

    /// Flushes the file's data and metadata to its device (`fsync(2)`); a failed write-back is reported here.
    public func synchronize() throws(SystemCallError) {
        if case .failure(let e) = system_fsync(liveDescriptor(for: "fsync")) {
            throw SystemCallError(call: "fsync(\(path))", errno: e)
        }
    }

    /// The open file's status (`fstat(2)`): what it is now, whatever its path names meanwhile.
    public func status() throws(SystemCallError) -> FileStatus {
        switch system_fstat(liveDescriptor(for: "fstat")) {
        case .success(let st): return FileStatus(st)
        case .failure(let e): throw SystemCallError(call: "fstat(\(path))", errno: e)
        }
    }

    /// Whether ``close()`` has not been called yet.
    public var isOpen: Bool { descriptor >= 0 }

    /// Closes the descriptor and reports the kernel's answer. The descriptor is released even when this throws;
    /// closing twice is a programmer error.
    public func close() throws(SystemCallError) {
        let fd = liveDescriptor(for: "close")
        descriptor = -1
        if case .failure(let e) = system_close(fd) {
            throw SystemCallError(call: "close(\(path))", errno: e)
        }
    }
}
