#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The tool side of the request words in a published file: `memprobe profile <pid>` (issue 10) writes a request
/// here, the target's governor answers it on its next tick. Only the file's owner (and root) can write it.
package enum PublishedRequestClient {
    /// Writes a request into process `pid`'s file; returns its sequence number.
    package static func send(pid: Int32, kind: UInt32, path: String) throws(PublishedStatsError) -> UInt64 {
        typealias L = PublishedStatsLayout
        guard let uid = PublishedStatsLocation.owner(ofProcess: pid) else { throw .notPublished(pid: pid) }
        let file = PublishedStatsLocation.path(pid: pid, uid: uid)
        let bytes = Array(path.utf8)
        guard bytes.count < L.requestPathCapacity else { throw .corrupt(reason: "request path longer than \(L.requestPathCapacity - 1) bytes") }
        let fd = open(file, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw .notPublished(pid: pid) }
            if e == EACCES || e == EPERM { throw .notPermitted(path: file) }
            throw .system(call: "open(\(file))", errno: e)
        }
        defer { close(fd) }
        var answered: UInt64 = 0
        var requested: UInt64 = 0
        guard withUnsafeMutableBytes(of: &answered, { pread(fd, $0.baseAddress, 8, off_t(L.replySequenceOffset)) }) == 8,
              withUnsafeMutableBytes(of: &requested, { pread(fd, $0.baseAddress, 8, off_t(L.requestSequenceOffset)) }) == 8
        else { throw .truncated(bytes: 0, expected: L.headerBytes) }
        var kindWord = kind
        var length = UInt32(bytes.count)
        let padded = bytes + [UInt8](repeating: 0, count: L.requestPathCapacity - bytes.count)
        let sequence = max(answered, requested) &+ 1
        var seq = sequence
        func write(_ p: UnsafeRawBufferPointer, at offset: Int) throws(PublishedStatsError) {
            guard pwrite(fd, p.baseAddress, p.count, off_t(offset)) == p.count else {
                throw .system(call: "pwrite(\(file))", errno: errno)
            }
        }
        try withUnsafeBytes(of: &kindWord) { (p) throws(PublishedStatsError) in try write(p, at: L.requestKindOffset) }
        try withUnsafeBytes(of: &length) { (p) throws(PublishedStatsError) in try write(p, at: L.requestPathLengthOffset) }
        let pathWritten = padded.withUnsafeBytes { p in pwrite(fd, p.baseAddress, p.count, off_t(L.requestPathOffset)) }
        guard pathWritten == L.requestPathCapacity else { throw .system(call: "pwrite(\(file))", errno: errno) }
        // The sequence last: the governor acts once it differs from the reply sequence.
        try withUnsafeBytes(of: &seq) { (p) throws(PublishedStatsError) in try write(p, at: L.requestSequenceOffset) }
        return sequence
    }

    /// The last reply: its sequence number and status (0 ok, else an errno value).
    package static func reply(pid: Int32) throws(PublishedStatsError) -> (sequence: UInt64, status: Int64) {
        typealias L = PublishedStatsLayout
        guard let uid = PublishedStatsLocation.owner(ofProcess: pid) else { throw .notPublished(pid: pid) }
        let file = PublishedStatsLocation.path(pid: pid, uid: uid)
        let fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? .notPublished(pid: pid) : .notPermitted(path: file) }
        defer { close(fd) }
        var seq: UInt64 = 0
        var status: Int64 = 0
        guard withUnsafeMutableBytes(of: &status, { pread(fd, $0.baseAddress, 8, off_t(L.replyStatusOffset)) }) == 8,
              withUnsafeMutableBytes(of: &seq, { pread(fd, $0.baseAddress, 8, off_t(L.replySequenceOffset)) }) == 8
        else { throw .truncated(bytes: 0, expected: L.headerBytes) }
        return (seq, status)
    }
}
