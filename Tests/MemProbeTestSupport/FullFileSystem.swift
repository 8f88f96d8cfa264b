#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A tiny tmpfs mounted on a fresh directory under /tmp and filled to the last byte, so that writing anything there
/// fails with a real ENOSPC (creating an empty file still works: tmpfs limits inodes separately). Needs root: gate
/// the test with `.enabled(if: TestEnvironment.isRoot, …)`. ``close()`` (also run by deinit) unmounts it and
/// removes the directory; call it in a `defer`.
public final class FullFileSystem {
    /// The mount point.
    public let directory: String
    /// The file that fills it.
    public static let fillerName = "filler"
    private var mounted = true

    /// Mounts a tmpfs of `size` bytes and fills it.
    public init(size: Int = 16 << 10) throws(FullFileSystemError) {
        var template = Array("/tmp/memprobe-full-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw FullFileSystemError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        guard mount("tmpfs", directory, "tmpfs", 0, "size=\(size)") == 0 else {
            let e = errno
            rmdir(directory)
            mounted = false
            throw FullFileSystemError("mount tmpfs on \(directory): \(String(cString: strerror(e)))")
        }
        let fd = open(directory + "/" + Self.fillerName, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let e = errno
            close()
            throw FullFileSystemError("create the filler: \(String(cString: strerror(e)))")
        }
        defer { Glibc.close(fd) }
        // Whole pages first, then single bytes: nothing is left for any content.
        for chunk in [4096, 1] {
            let bytes = [UInt8](repeating: 0x5a, count: chunk)
            while bytes.withUnsafeBytes({ write(fd, $0.baseAddress, chunk) }) == chunk {}
        }
    }

    /// The names in the directory other than the filler (what a test left behind), sorted.
    public func leftovers() -> [String] { Self.entries(of: directory).filter { $0 != Self.fillerName } }

    /// Unmounts and removes the directory (again: nothing).
    public func close() {
        guard mounted else { return }
        mounted = false
        _ = umount2(directory, Int32(MNT_DETACH))
        rmdir(directory)
    }

    deinit { close() }

    /// The names in `directory` (without `.` and `..`), sorted; empty when it cannot be read.
    public static func entries(of directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// Why the full file system could not be set up.
public struct FullFileSystemError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
