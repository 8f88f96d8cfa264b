#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What `stat`, `lstat` or `fstat` says about a file: its kind, permission bits, owner and size.
///
/// Read with ``SystemFile/status()`` (an open file) or ``FileSystem/status(ofPath:followSymlinks:)`` (a path).
public struct FileStatus: Sendable, Hashable {
    /// The kind of file (`st_mode & S_IFMT`).
    public enum Kind: Sendable, Hashable {
        case regular, directory, symbolicLink
        /// A device, FIFO or socket.
        case other
    }

    /// The kind of file.
    public var kind: Kind
    /// The permission bits, `st_mode & 0o7777` (e.g. `0o600`).
    public var permissions: mode_t
    /// The owner's user id.
    public var ownerID: uid_t
    /// The size in bytes (`st_size`).
    public var byteCount: Int
    /// The device and inode: equal for two paths that name the same file.
    public var device: UInt64, inode: UInt64

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        default: kind = .other
        }
        permissions = st.st_mode & 0o7777
        ownerID = st.st_uid
        byteCount = Int(st.st_size)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}
