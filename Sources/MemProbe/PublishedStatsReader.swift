#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem

/// The figures a process published in its stats file: its arenas and its governor's state.
public struct PublishedStats: Sendable, Hashable {
    public var schemaVersion: Int
    public var pid: Int32
    /// The publisher's start time (clock ticks after boot), which tells a reused pid apart.
    public var startTime: UInt64
    /// When the figures were last written (CLOCK_MONOTONIC, nanoseconds).
    public var updatedMonotonicNanoseconds: Int
    /// The arenas, as the process published them (`resident` is nil: mincore works on one's own mappings only).
    public var arenas: [MemStats.Arena]
    /// Arenas beyond the file's capacity that were not published.
    public var arenasOmitted: Int
    /// The governor's state, nil when no governor publishes.
    public var governor: GovernorState?
}

/// Why published figures could not be read.
public enum PublishedStatsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The process publishes nothing (no file).
    case notPublished(pid: Int32)
    /// The file belongs to another user (only that user and root may read it).
    case notPermitted(path: String)
    /// The file is left from a process that is gone, or whose pid now names another process.
    case stale(path: String, reason: String)
    /// Shorter than its header says.
    case truncated(bytes: Int, expected: Int)
    /// Not a published-stats file, or figures that cannot be true.
    case corrupt(reason: String)
    /// A schema version this reader does not know.
    case wrongVersion(found: Int, expected: Int)
    /// The publisher kept rewriting it while it was read.
    case unstable(path: String)
    /// A system call failed: the call with its path, and the errno.
    case system(call: String, errno: Int32)

    init(_ error: SystemCallError) { self = .system(call: error.call, errno: error.errno.rawValue) }

    public var description: String {
        switch self {
        case .notPublished(let pid): "process \(pid) publishes no memprobe figures"
        case .notPermitted(let path): "not permitted: \(path) belongs to another user (only its owner and root may read it)"
        case .stale(let path, let reason): "stale published file \(path): \(reason)"
        case .truncated(let n, let expected): "published file truncated: \(n) bytes, expected \(expected)"
        case .corrupt(let reason): "published file corrupt: \(reason)"
        case .wrongVersion(let found, let expected): "published file has schema version \(found); this memprobe reads version \(expected)"
        case .unstable(let path): "\(path) kept changing while being read"
        case .system(let call, let e): "\(call): \(String(cString: strerror(e))) (errno \(e))"
        }
    }
}

package enum PublishedStatsReader {
    /// Reads and validates the figures process `pid` published.
    package static func read(pid: Int32) throws(PublishedStatsError) -> PublishedStats {
        guard let uid = PublishedStatsLocation.owner(ofProcess: pid) else { throw .notPublished(pid: pid) }
        return try read(path: PublishedStatsLocation.path(pid: pid, uid: uid), pid: pid, uid: uid)
    }

    /// Reads and validates the file at `path`, which must be a regular file owned by `uid` naming process `pid`.
    package static func read(path: String, pid: Int32, uid: uid_t) throws(PublishedStatsError) -> PublishedStats {
        let file: SystemFile
        do {
            file = try SystemFile.open(path, .readOnly, followSymlinks: false)
        } catch {
            switch error.errno {
            case .noSuchFileOrDirectory: throw .notPublished(pid: pid)
            case .permissionDenied, .notPermitted: throw .notPermitted(path: path)
            case .tooManySymbolicLinkLevels: throw .corrupt(reason: "\(path) is a symbolic link")
            default: throw PublishedStatsError(error)
            }
        }
        let st: FileStatus
        do { st = try file.status() } catch { throw PublishedStatsError(error) }
        guard st.kind == .regular else { throw .corrupt(reason: "\(path) is not a regular file") }
        guard st.ownerID == uid else { throw .corrupt(reason: "\(path) is owned by uid \(st.ownerID), not the process's \(uid)") }
        let size = st.byteCount
        guard size <= PublishedStatsLayout.maximumFileBytes else { throw .corrupt(reason: "\(size) bytes is too large") }
        var stats: PublishedStats?
        for attempt in 0..<200 {
            let bytes = try readAll(file, size: size)
            // The sequence word read again after the copy: unchanged and even means one whole publication.
            let after: UInt64?
            do { after = try file.readWord(atOffset: PublishedStatsLayout.sequenceOffset) } catch { throw PublishedStatsError(error) }
            do {
                let parsed = try parse(bytes, expectedPID: pid)
                if after == sequence(bytes) { stats = parsed; break }
            } catch .unstable {
                // odd sequence: a write in progress
            }
            if attempt > 20 { usleep(100) } else { sched_yield() }
        }
        guard let stats else { throw .unstable(path: path) }
        if let now = ProcessStartTime.read(pid: pid), now != stats.startTime {
            _ = try? FileSystem.removeFile(path)  // best effort: only its owner (or root) may
            throw .stale(path: path, reason: "pid \(pid) now names a process started at \(now), not \(stats.startTime)")
        }
        return stats
    }

    /// Up to `size` bytes from the start of `file` (fewer when it is shorter): a pread loop, EINTR retried by the
    /// system layer.
    private static func readAll(_ file: SystemFile, size: Int) throws(PublishedStatsError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let r = bytes.withUnsafeMutableBytes { raw in
                Result { () throws(SystemCallError) in try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[done...]), atOffset: done) }
            }
            let n: Int
            do { n = try r.get() } catch { throw PublishedStatsError(error) }
            if n == 0 { break }
            done += n
        }
        return Array(bytes.prefix(done))
    }

    private static func sequence(_ bytes: [UInt8]) -> UInt64 {
        word(bytes, PublishedStatsLayout.sequenceOffset, as: UInt64.self)
    }

    private static func word<T: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int, as: T.Type) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }

    /// Parses and validates a published file's bytes. Never traps, whatever the bytes: this is the fuzzer's entry.
    /// - Parameter expectedPID: the pid the file must name (nil: any).
    package static func parse(_ bytes: [UInt8], expectedPID: Int32? = nil) throws(PublishedStatsError) -> PublishedStats {
        typealias L = PublishedStatsLayout
        guard bytes.count >= 16 else { throw .truncated(bytes: bytes.count, expected: L.headerBytes) }
        guard word(bytes, L.magicOffset, as: UInt64.self) == L.magic else { throw .corrupt(reason: "bad magic number") }
        let version = word(bytes, L.versionOffset, as: UInt32.self)
        guard version == L.schemaVersion else { throw .wrongVersion(found: Int(version), expected: Int(L.schemaVersion)) }
        guard bytes.count >= L.headerBytes else { throw .truncated(bytes: bytes.count, expected: L.headerBytes) }
        guard Int(word(bytes, L.headerBytesOffset, as: UInt32.self)) == L.headerBytes else {
            throw .corrupt(reason: "header size \(word(bytes, L.headerBytesOffset, as: UInt32.self)), expected \(L.headerBytes)")
        }
        let declared = word(bytes, L.fileBytesOffset, as: UInt64.self)
        guard declared <= UInt64(L.maximumFileBytes) else { throw .corrupt(reason: "declared size \(declared) too large") }
        guard bytes.count >= Int(declared) else { throw .truncated(bytes: bytes.count, expected: Int(declared)) }
        guard Int(declared) >= L.headerBytes else { throw .corrupt(reason: "declared size \(declared) below the header") }
        let pid64 = word(bytes, L.pidOffset, as: Int64.self)
        guard pid64 > 0, pid64 <= Int64(Int32.max) else { throw .corrupt(reason: "pid \(pid64)") }
        let pid = Int32(pid64)
        if let expectedPID, expectedPID != pid { throw .corrupt(reason: "names pid \(pid), not \(expectedPID)") }
        guard sequence(bytes) & 1 == 0 else { throw .unstable(path: "") }
        let recordBytes = Int(word(bytes, L.arenaRecordBytesOffset, as: UInt32.self))
        guard recordBytes == L.arenaRecordBytes else { throw .corrupt(reason: "arena record size \(recordBytes)") }
        let capacity = Int(word(bytes, L.arenaCapacityOffset, as: UInt32.self))
        let count = Int(word(bytes, L.arenaCountOffset, as: UInt32.self))
        guard count <= capacity, L.headerBytes + capacity * recordBytes <= Int(declared) else {
            throw .corrupt(reason: "\(count) arenas of capacity \(capacity) do not fit in \(declared) bytes")
        }
        var arenas: [MemStats.Arena] = []
        for i in 0..<count {
            let r = L.headerBytes + i * recordBytes
            let label = try text(bytes, r + L.arenaLabelOffset, L.labelBytes, "arena \(i) label")
            let strategy = try text(bytes, r + L.arenaStrategyOffset, L.strategyBytes, "arena \(i) strategy")
            let w = (0..<L.arenaStatsWords).map { Int(word(bytes, r + L.arenaStatsOffset + 8 * $0, as: Int64.self)) }
            guard w.allSatisfy({ $0 >= 0 }) else { throw .corrupt(reason: "arena \(label): negative figure") }
            let s = L.stats(w)
            // Sums are overflow-checked: every word is any Int64 a hostile file chooses.
            let (inuseAndIdle, overflow) = s.heapInuse.addingReportingOverflow(s.heapIdle)
            guard !overflow, s.alloc <= s.heapInuse, inuseAndIdle == s.sys,
                  s.heapReleasedLazy <= s.heapReleased, s.heapReleased - s.heapReleasedLazy == s.heapReleasedDiscarded,
                  s.heapReleased <= s.heapIdle
            else { throw .corrupt(reason: "arena \(label): figures that break the arena's invariants") }
            arenas.append(MemStats.Arena(name: label, strategy: strategy, stats: s, resident: nil))
        }
        return PublishedStats(
            schemaVersion: Int(version), pid: pid, startTime: word(bytes, L.startTimeOffset, as: UInt64.self),
            updatedMonotonicNanoseconds: Int(word(bytes, L.updatedOffset, as: Int64.self)), arenas: arenas,
            arenasOmitted: Int(word(bytes, L.arenasOmittedOffset, as: UInt32.self)), governor: try governor(bytes))
    }

    private static func text(_ bytes: [UInt8], _ offset: Int, _ capacity: Int, _ what: String) throws(PublishedStatsError) -> String {
        let field = bytes[offset..<(offset + capacity)]
        guard let end = field.firstIndex(of: 0) else { throw .corrupt(reason: "\(what) is not terminated") }
        guard let s = String(validating: field[offset..<end], as: UTF8.self) else {
            throw .corrupt(reason: "\(what) is not UTF-8")
        }
        guard s.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else {
            throw .corrupt(reason: "\(what) holds control characters")
        }
        return s
    }

    private static func governor(_ bytes: [UInt8]) throws(PublishedStatsError) -> GovernorState? {
        typealias W = PublishedStatsLayout.GovernorWord
        func get(_ w: W) -> Int { Int(word(bytes, w.offset, as: Int64.self)) }
        func optional(_ w: W) throws(PublishedStatsError) -> Int? {
            let v = get(w)
            guard v >= -1 else { throw .corrupt(reason: "governor \(w): \(v)") }
            return v == -1 ? nil : v
        }
        func count(_ w: W) throws(PublishedStatsError) -> Int {
            let v = get(w)
            guard v >= 0 else { throw .corrupt(reason: "governor \(w): \(v)") }
            return v
        }
        let flags = get(.flags)
        guard flags >= 0, flags < 16 else { throw .corrupt(reason: "governor flags \(flags)") }
        guard flags & 1 != 0 else { return nil }
        var g = GovernorState()
        g.running = flags & 2 != 0
        g.backingOff = flags & 4 != 0
        g.limitBytes = try optional(.limitBytes)
        let source = get(.limitSource), watched = get(.watched)
        guard MemoryLimitSource.allCases.indices.contains(source) else { throw .corrupt(reason: "limit source \(source)") }
        guard GovernorState.WatchedFigure.allCases.indices.contains(watched) else { throw .corrupt(reason: "watched figure \(watched)") }
        g.limitSource = MemoryLimitSource.allCases[source]
        g.watched = GovernorState.WatchedFigure.allCases[watched]
        g.targetBytes = try optional(.targetBytes)
        g.cgroupLimitBytes = try optional(.cgroupLimitBytes)
        g.watchedBytes = try optional(.watchedBytes)
        g.releasedBytes = try count(.releasedBytes)
        g.releaseCalls = try count(.releaseCalls)
        g.limitReleasedBytes = try count(.limitReleasedBytes)
        g.trimCalls = try count(.trimCalls)
        g.trimReleasedBytes = get(.trimReleasedBytes)
        g.cpuNanoseconds = try count(.cpuNanoseconds)
        g.runNanoseconds = try count(.runNanoseconds)
        g.ticks = try count(.ticks)
        g.overrunCount = try count(.overrunCount)
        if flags & 8 != 0 {
            g.lastOverrun = GovernorState.Overrun(
                unixSeconds: try count(.lastOverrunUnixSeconds), watchedBytes: try count(.lastOverrunWatchedBytes),
                limitBytes: try count(.lastOverrunLimitBytes))
        }
        g.mallocInUseBytes = try optional(.mallocInUseBytes)
        g.mallocFreeBytes = try optional(.mallocFreeBytes)
        return g
    }

    /// Whether the file at `path` names a process that is gone or whose pid was reused (unreadable: not stale).
    package static func isStale(path: String, pid: Int32) -> Bool {
        guard let current = ProcessStartTime.read(pid: pid) else { return true }  // no such process
        guard let file = try? SystemFile.open(path, .readOnly, followSymlinks: false),
              let start = try? file.readWord(atOffset: PublishedStatsLayout.startTimeOffset)
        else { return false }
        return start != current
    }

    /// Fuzzer entry: parses arbitrary bytes; returns 0 when they parse, 1 when rejected. Never traps.
    package static func fuzz(_ data: UnsafeRawBufferPointer) -> Int32 {
        do {
            _ = try parse(Array(data.prefix(PublishedStatsLayout.maximumFileBytes)))
            return 0
        } catch {
            _ = error.description
            return 1
        }
    }
}

extension SystemFile {
    /// The 8-byte word at `offset` of a published file (pread), nil when the file ends before it.
    func readWord(atOffset offset: Int) throws(SystemCallError) -> UInt64? {
        var value: UInt64 = 0
        let n = withUnsafeMutableBytes(of: &value) { raw in
            Result { () throws(SystemCallError) in try read(into: raw, atOffset: offset) }
        }
        return try n.get() == 8 ? value : nil
    }
}

/// A request written into a process's published file by a tool (e.g. `memprobe profile <pid>`, issue 10):
/// the governor polls it each tick and calls its ``MemoryGovernor/Configuration/requestHandler``.
public struct PublishedRequest: Sendable, Hashable {
    /// Request kinds. 1: write a heap profile to ``path``.
    public static let heapProfile: UInt32 = 1
    /// The request's sequence number (the reply carries it back).
    public var sequence: UInt64
    public var kind: UInt32
    /// A path argument (where to write), UTF-8, at most 255 bytes.
    public var path: String
}
