#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import SystemPackage

/// Operations on paths — status, directories, permissions, rename, removal — through the system layer's choke
/// points: EINTR is retried, and a failure is a ``SystemCallError`` naming the call, its path and the errno.
///
/// Open files are ``SystemFile``; files replaced atomically are ``ReplacementFile``.
public enum FileSystem {
    /// `stat` (or, with `followSymlinks: false`, `lstat`) of `path`.
    public static func status(ofPath path: String, followSymlinks: Bool = true) throws(SystemCallError) -> FileStatus {
        switch followSymlinks ? system_stat(path) : system_lstat(path) {
        case .success(let st): return FileStatus(st)
        case .failure(let e): throw SystemCallError(call: "\(followSymlinks ? "stat" : "lstat")(\(path))", errno: e)
        }
    }

    /// Creates directory `path` with `permissions` (the umask applies, as for `mkdir(2)`).
    /// - Throws: `EEXIST` when something exists under that name (a directory or not).
    public static func makeDirectory(_ path: String, permissions: mode_t) throws(SystemCallError) {
        if case .failure(let e) = system_mkdir(path, permissions) {
            throw SystemCallError(call: "mkdir(\(path), 0\(String(permissions, radix: 8)))", errno: e)
        }
    }

    /// Sets the permission bits of `path` (`chmod(2)`; follows a final symbolic link).
    public static func setPermissions(_ permissions: mode_t, ofPath path: String) throws(SystemCallError) {
        if case .failure(let e) = system_chmod(path, permissions) {
            throw SystemCallError(call: "chmod(\(path), 0\(String(permissions, radix: 8)))", errno: e)
        }
    }

    /// Renames `source` to `destination`, atomically replacing a file already there (both on one file system).
    public static func rename(_ source: String, to destination: String) throws(SystemCallError) {
        if case .failure(let e) = system_rename(source, destination) {
            throw SystemCallError(call: "rename(\(source), \(destination))", errno: e)
        }
    }

    /// Removes the file (not directory) `path` (`unlink(2)`).
    public static func removeFile(_ path: String) throws(SystemCallError) {
        if case .failure(let e) = system_unlink(path) {
            throw SystemCallError(call: "unlink(\(path))", errno: e)
        }
    }

    /// The entries of directory `path`, `.` and `..` left out, in the order the file system lists them.
    public static func directoryEntries(_ path: String) throws(SystemCallError) -> [DirectoryEntry] {
        switch system_readDirectory(path) {
        case .success(let entries): return entries.map { DirectoryEntry(name: $0.name, directoryEntryType: $0.type) }
        case .failure(let e): throw SystemCallError(call: "opendir(\(path))", errno: e)
        }
    }
}
