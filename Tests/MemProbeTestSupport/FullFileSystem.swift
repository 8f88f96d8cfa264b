/// A ``SmallTmpfs`` filled to the last byte, so that writing anything there fails with a real ENOSPC (creating an
/// empty file still works: tmpfs limits inodes separately). Needs root: gate the test with
/// `.enabled(if: TestEnvironment.isRoot, …)`. ``close()`` (also run on release) unmounts it; the directory goes with
/// the object.
public final class FullFileSystem {
    /// The file that fills it.
    public static let fillerName = "filler"
    private let tmpfs: SmallTmpfs

    /// The mount point.
    public var directory: String { tmpfs.path }

    /// Mounts a tmpfs of `size` bytes and fills it.
    public init(size: Int = 16 << 10) throws {
        tmpfs = try SmallTmpfs(sizeBytes: size)
        try tmpfs.fill(name: Self.fillerName)
    }

    /// The names in the directory other than the filler (what a test left behind), sorted.
    public func leftovers() -> [String] { TemporaryDirectory.names(in: directory).filter { $0 != Self.fillerName } }

    /// Unmounts it (again: nothing).
    public func close() { tmpfs.unmount() }
}
