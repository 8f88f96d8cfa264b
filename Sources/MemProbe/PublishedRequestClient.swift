#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem

/// The tool side of the request words in a published file: `memprobe profile <pid>` (issue 10) writes a request
/// here, the target's governor answers it on its next tick. Only the file's owner (and root) can write it.
/// Every file access goes through MemProbeSystem's choke points (``SystemFile``).
package enum PublishedRequestClient {
    /// Writes a request into process `pid`'s file; returns its sequence number.
    package static func send(pid: Int32, kind: UInt32, path: String) throws(PublishedStatsError) -> UInt64 {
        guard let uid = PublishedStatsLocation.owner(ofProcess: pid) else { throw .notPublished(pid: pid) }
        return try send(file: PublishedStatsLocation.path(pid: pid, uid: uid), pid: pid, kind: kind, path: path)
    }

    /// Writes a request into the published file at `file` (of process `pid`); returns its sequence number.
    package static func send(file: String, pid: Int32, kind: UInt32, path: String) throws(PublishedStatsError) -> UInt64 {
        typealias L = PublishedStatsLayout
        let bytes = Array(path.utf8)
        guard bytes.count < L.requestPathCapacity else { throw .corrupt(reason: "request path longer than \(L.requestPathCapacity - 1) bytes") }
        let f = try open(file, .readWrite, pid: pid)
        let answered: UInt64?, requested: UInt64?
        do {
            answered = try f.readWord(atOffset: L.replySequenceOffset)
            requested = try f.readWord(atOffset: L.requestSequenceOffset)
        } catch {
            throw PublishedStatsError(error)
        }
        guard let answered, let requested else { throw .truncated(bytes: 0, expected: L.headerBytes) }
        let padded = bytes + [UInt8](repeating: 0, count: L.requestPathCapacity - bytes.count)
        let sequence = max(answered, requested) &+ 1
        func write<T>(_ value: T, at offset: Int) throws(PublishedStatsError) {
            let r = withUnsafeBytes(of: value) { raw in
                Result { () throws(SystemCallError) in try f.writeAll(raw, atOffset: offset) }
            }
            do { try r.get() } catch { throw PublishedStatsError(error) }
        }
        try write(kind, at: L.requestKindOffset)
        try write(UInt32(bytes.count), at: L.requestPathLengthOffset)
        let pathWritten = padded.withUnsafeBytes { raw in
            Result { () throws(SystemCallError) in try f.writeAll(raw, atOffset: L.requestPathOffset) }
        }
        do { try pathWritten.get() } catch { throw PublishedStatsError(error) }
        // The sequence last: the governor acts once it differs from the reply sequence.
        try write(sequence, at: L.requestSequenceOffset)
        return sequence
    }

    /// The last reply: its sequence number and status (0 ok, else an errno value).
    package static func reply(pid: Int32) throws(PublishedStatsError) -> (sequence: UInt64, status: Int64) {
        guard let uid = PublishedStatsLocation.owner(ofProcess: pid) else { throw .notPublished(pid: pid) }
        return try reply(file: PublishedStatsLocation.path(pid: pid, uid: uid), pid: pid)
    }

    /// The last reply in the published file at `file` (of process `pid`).
    package static func reply(file: String, pid: Int32) throws(PublishedStatsError) -> (sequence: UInt64, status: Int64) {
        typealias L = PublishedStatsLayout
        let f = try open(file, .readOnly, pid: pid)
        let status: UInt64?, sequence: UInt64?
        do {
            status = try f.readWord(atOffset: L.replyStatusOffset)
            sequence = try f.readWord(atOffset: L.replySequenceOffset)
        } catch {
            throw PublishedStatsError(error)
        }
        guard let status, let sequence else { throw .truncated(bytes: 0, expected: L.headerBytes) }
        return (sequence, Int64(bitPattern: status))
    }

    /// Opens a published file without following a symbolic link; a missing file means the process publishes
    /// nothing, a refused one that it belongs to another user.
    private static func open(_ file: String, _ access: SystemFile.Access, pid: Int32) throws(PublishedStatsError) -> SystemFile {
        do {
            return try SystemFile.open(file, access, followSymlinks: false)
        } catch {
            switch error.errno {
            case .noSuchFileOrDirectory: throw .notPublished(pid: pid)
            case .permissionDenied, .notPermitted: throw .notPermitted(path: file)
            default: throw PublishedStatsError(error)
            }
        }
    }
}
