import MemProbeSystem

/// File reads and atomic writes without Foundation, through MemProbeSystem's choke points.
package enum ProfileFile {
    /// Reads a whole file (regular files, pipes and /proc alike), at most `limit` bytes.
    package static func read(_ path: String, limit: Int = 1 << 30) throws(ProfileFileError) -> [UInt8] {
        let file: SystemFile
        do { file = try SystemFile.open(path, .readOnly) } catch { throw .open(path, error) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let r = chunk.withUnsafeMutableBytes { raw in Result { () throws(SystemCallError) in try file.read(into: raw) } }
            let n: Int
            do { n = try r.get() } catch { throw .read(path, error) }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            guard out.count <= limit else { throw .tooLarge(path, limit) }
        }
    }

    /// Writes `bytes` to a temporary file in `path`'s directory and renames it over `path` once every write, the
    /// flush and the close succeeded (``ReplacementFile``): readers never see a half-written profile. On failure
    /// the temporary file is removed, nothing is left under `path` (an existing file there is untouched), and the
    /// error names the failed call and its errno.
    package static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ProfileFileError) {
        let out: ReplacementFile
        do { out = try ReplacementFile(replacing: path, permissions: 0o644) } catch { throw .open(path, error) }
        do { try ReplacementFile.write(bytes, into: out) } catch { throw .write(path, error) }
    }
}

extension ReplacementFile {
    /// Writes all of `bytes` into `file` and commits it.
    fileprivate static func write(_ bytes: [UInt8], into file: ReplacementFile) throws(SystemCallError) {
        let written = bytes.withUnsafeBytes { raw in Result { () throws(SystemCallError) in try file.write(raw) } }
        try written.get()
        try file.commit()
    }
}

/// A profile file that could not be read or written: the file, and the system call that failed with its errno.
public enum ProfileFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Opening the file (for a write: creating its temporary file) failed.
    case open(String, SystemCallError)
    /// Reading the file failed.
    case read(String, SystemCallError)
    /// Writing, flushing, closing or renaming the file into place failed; nothing was left under its name.
    case write(String, SystemCallError)
    /// The file is larger than the reader accepts.
    case tooLarge(String, Int)

    public var description: String {
        switch self {
        case .open(let p, let e): "cannot open \(p): \(e)"
        case .read(let p, let e): "cannot read \(p): \(e)"
        case .write(let p, let e): "cannot write \(p): \(e)"
        case .tooLarge(let p, let n): "\(p) is larger than \(n) bytes"
        }
    }
}
