#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// File reads and atomic writes without Foundation.
package enum ProfileFile {
    /// Reads a whole file (regular files, pipes and /proc alike), at most `limit` bytes.
    package static func read(_ path: String, limit: Int = 1 << 30) throws(ProfileFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .open(path, errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .read(path, errno)
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            guard out.count <= limit else { throw .tooLarge(path, limit) }
        }
    }

    /// Writes `bytes` to a temporary file next to `path`, then renames it over `path`: readers never see a
    /// half-written profile.
    package static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ProfileFileError) {
        let temp = "\(path).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .open(temp, errno) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                unlink(temp)
                throw .write(temp, e)
            }
            done += n
        }
        if close(fd) != 0 {
            let e = errno
            unlink(temp)
            throw .write(temp, e)
        }
        if rename(temp, path) != 0 {
            let e = errno
            unlink(temp)
            throw .write(path, e)
        }
    }
}

/// A profile file that could not be read or written.
public enum ProfileFileError: Error, Hashable, Sendable, CustomStringConvertible {
    case open(String, Int32)
    case read(String, Int32)
    case write(String, Int32)
    case tooLarge(String, Int)

    public var description: String {
        func text(_ e: Int32) -> String { String(cString: strerror(e)) }
        switch self {
        case .open(let p, let e): return "cannot open \(p): \(text(e))"
        case .read(let p, let e): return "cannot read \(p): \(text(e))"
        case .write(let p, let e): return "cannot write \(p): \(text(e))"
        case .tooLarge(let p, let n): return "\(p) is larger than \(n) bytes"
        }
    }
}
