#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization
import SystemPackage

/// A file written under a temporary name in its target's directory and renamed over the target only when it is
/// complete: every write, the flush to the device and the close succeeded. Readers of the target see the old file
/// or the new one, never a part.
///
/// On any failure — and when the value is released without ``commit()`` — the temporary file is removed, so nothing
/// is left under either name and an existing file at the target is untouched. Every call goes through the system
/// layer's choke points; errors are ``SystemCallError``s naming the call and the errno (`ENOSPC` for a full disk).
///
/// ```swift
/// let out = try ReplacementFile(replacing: "/tmp/heap.pb.gz")
/// try bytes.withUnsafeBytes { try out.write($0) }
/// try out.commit()
/// ```
public final class ReplacementFile {
    /// The path the file replaces when committed.
    public let path: String
    /// The temporary file, `.<name>.tmp-<pid>-<n>` in the same directory (so the rename is atomic).
    public let temporaryPath: String
    private var file: SystemFile?

    /// Distinguishes the temporary files of one process.
    private static let serial = Atomic<Int>(0)

    /// Creates the temporary file next to `path` (`O_CREAT|O_EXCL|O_NOFOLLOW`).
    /// - Parameter permissions: the file's mode before the umask (`0o666` as `fopen` would, `0o600` for private data).
    /// - Throws: the `open` of the temporary file: `ENOENT` when the directory does not exist, `EACCES`, `EROFS`,
    ///   `ENOSPC` (no inode left), `EISDIR` when `path` ends in `/`.
    public init(replacing path: String, permissions: mode_t = 0o666) throws(SystemCallError) {
        let slash = path.lastIndex(of: "/")
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw SystemCallError(call: "open(\(path))", errno: .isDirectory) }
        let directory = slash.map { String(path[...$0]) } ?? ""  // keeps the slash
        (file, temporaryPath) = try Self.createTemporary(prefix: "\(directory).\(name).tmp-\(getpid())-", permissions)
        self.path = path
    }

    /// Creates `<prefix><n>` with a fresh `n`; another `n` when the name is taken (left by an earlier process with
    /// this pid), a few times.
    private static func createTemporary(prefix: String, _ permissions: mode_t) throws(SystemCallError) -> (SystemFile, String) {
        var attempt = 0
        while true {
            let candidate = prefix + String(serial.add(1, ordering: .relaxed).newValue)
            do {
                return (try SystemFile.createNew(candidate, .writeOnly, permissions: permissions), candidate)
            } catch where error.errno == .fileExists && attempt < 16 {
                attempt += 1
            }
        }
    }

    deinit { abandon() }

    /// Appends all of `bytes`. On failure the temporary file is removed (the object is then spent) and the write's
    /// error is thrown.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        guard let file else { throw SystemCallError(call: "write(\(temporaryPath))", errno: .badFileDescriptor) }
        do {
            try file.writeAll(bytes)
        } catch {
            abandon()
            throw error
        }
    }

    /// Flushes and closes the temporary file and renames it to ``path``. On failure the temporary file is removed,
    /// nothing is written under ``path``, and the first failing call's error is thrown.
    public func commit() throws(SystemCallError) {
        guard let file else { throw SystemCallError(call: "close(\(temporaryPath))", errno: .badFileDescriptor) }
        self.file = nil
        do {
            try file.synchronize()
        } catch {
            _ = try? file.close()
            _ = try? FileSystem.removeFile(temporaryPath)
            throw error
        }
        do {
            try file.close()
            try FileSystem.rename(temporaryPath, to: path)
        } catch {
            _ = try? FileSystem.removeFile(temporaryPath)
            throw error
        }
    }

    /// Closes and removes the temporary file without touching ``path`` (idempotent; a no-op after ``commit()``).
    public func abandon() {
        guard let file else { return }
        self.file = nil
        _ = try? file.close()
        _ = try? FileSystem.removeFile(temporaryPath)
    }

    /// Writes `bytes` to `path` through a ``ReplacementFile``: all of them, or nothing and an error.
    public static func write(_ bytes: [UInt8], to path: String, permissions: mode_t = 0o666) throws(SystemCallError) {
        let out = try ReplacementFile(replacing: path, permissions: permissions)
        // Array.withUnsafeBytes rethrows untyped: carry the typed error out as a value.
        let written = bytes.withUnsafeBytes { raw in Result { () throws(SystemCallError) in try out.write(raw) } }
        try written.get()
        try out.commit()
    }
}
