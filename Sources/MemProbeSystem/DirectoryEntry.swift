#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One entry of a directory listing (``FileSystem/directoryEntries(_:)``): its name and, when the file system
/// says, its kind.
public struct DirectoryEntry: Sendable, Hashable {
    /// The entry's name within its directory (never `.` or `..`).
    public var name: String
    /// The kind the directory records (`d_type`); nil when the file system leaves it unknown (`DT_UNKNOWN`), in
    /// which case ``FileSystem/status(ofPath:followSymlinks:)`` tells.
    public var kind: FileStatus.Kind?

    /// Creates an entry.
    public init(name: String, kind: FileStatus.Kind?) {
        self.name = name
        self.kind = kind
    }

    init(name: String, directoryEntryType type: UInt8) {
        self.name = name
        switch Int(type) {
        case Int(DT_REG): kind = .regular
        case Int(DT_DIR): kind = .directory
        case Int(DT_LNK): kind = .symbolicLink
        case Int(DT_UNKNOWN): kind = nil
        default: kind = .other
        }
    }
}
