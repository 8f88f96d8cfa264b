#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A failure of a test-support helper, with the reason.
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A fresh directory under /tmp (mkdtemp), removed with everything in it by ``remove()`` or on release.
///
/// Built on libc directly, not on the library under test, so tests check the library against an independent path.
public final class TemporaryDirectory {
    public let path: String

    public init(prefix: String = "memprobe-test") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestSupportError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    deinit { remove() }

    /// The names in the directory (no `.`/`..`), sorted.
    public func names() -> [String] { Self.names(in: path) }
    /// Same as ``names()``.
    public var entries: [String] { names() }

    /// The path of `name` in the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// The names in `directory` (no `.`/`..`), sorted; empty when it cannot be read.
    public static func names(in directory: String) -> [String] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    /// Removes the directory and its contents (idempotent).
    public func remove() { Self.removeTree(path) }

    private static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            // A test may have taken permissions away: give them back so the contents can go.
            chmod(path, 0o700)
            for name in names(in: path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Reads a whole file with libc (nil when it cannot be opened): an independent check of what the library wrote.
public func contentsOfFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return n == 0 ? out : nil }
        out.append(contentsOf: chunk[0..<n])
    }
}

/// Writes `bytes` to `path` with libc (created 0600 or truncated). Returns whether every byte was written.
@discardableResult
public func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return false }
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    return close(fd) == 0 && n == bytes.count
}

/// A small tmpfs mounted on a fresh directory (needs root: gate the test with `.enabled(if: TestEnvironment.isRoot)`),
/// for real "no space left on device" failures. ``unmount()`` (or release) detaches it and removes the directory.
public final class SmallTmpfs {
    public let path: String
    private var mounted = false
    private let directory: TemporaryDirectory

    /// Mounts a tmpfs of `sizeBytes` (rounded up to whole pages by the kernel).
    public init(sizeBytes: Int) throws {
        directory = try TemporaryDirectory(prefix: "memprobe-tmpfs")
        path = directory.path
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(sizeBytes),mode=0755") == 0 else {
            throw TestSupportError("mount tmpfs on \(path): \(String(cString: strerror(errno)))")
        }
        mounted = true
    }

    deinit { unmount() }

    /// Fills the file system with one file, `name`, until a write fails with ENOSPC; returns the bytes written.
    @discardableResult
    public func fill(name: String = "filler") throws -> Int {
        let fd = open(path + "/" + name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TestSupportError("open \(name): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let block = [UInt8](repeating: 0x5a, count: 4096)
        var total = 0
        while true {
            let n = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { total += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == ENOSPC { return total }
            throw TestSupportError("filling \(path): \(n < 0 ? String(cString: strerror(errno)) : "no progress")")
        }
    }

    /// Detaches the mount (idempotent); the directory goes with the object.
    public func unmount() {
        guard mounted else { return }
        mounted = false
        _ = umount2(path, Int32(MNT_DETACH))
    }
}
