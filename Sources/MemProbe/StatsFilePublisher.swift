#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import Synchronization

/// Why publishing could not start (the governor logs it at debug level and runs without publishing).
package enum StatsPublishError: Error, CustomStringConvertible {
    case unsafeDirectory(String, reason: String)
    case system(String, errno: Int32)

    package var description: String {
        switch self {
        case .unsafeDirectory(let d, let reason): "\(d): \(reason); not publishing"
        case .system(let call, let e): "\(call): \(String(cString: strerror(e))) (errno \(e))"
        }
    }
}

/// A request read from the published file (see ``PublishedRequest``).
/// The process's published-stats file, mapped shared: ``publish(arenas:governor:)`` writes it in place under a
/// sequence lock with plain stores — no system call — so the governor can publish every tick.
///
/// Used from one thread at a time (the governor's); the file is owner-only in an owner-only directory, removed by
/// ``remove()`` and at normal process exit (atexit).
package final class StatsFilePublisher: @unchecked Sendable {
    package let path: String
    private let base: UnsafeMutableRawPointer
    private var sequence: UInt64 = 0
    private var removed = false
    /// What each arena slot's text fields hold, so labels and strategy names are re-encoded only when they change.
    private var slotText: [(id: Int, label: String, strategy: ReleaseStrategy)?] =
        Array(repeating: nil, count: PublishedStatsLayout.arenaCapacity)

    /// Creates (or replaces) `<dir>/<pid>.stats`, after removing files of dead or reused pids in the directory.
    /// - Returns: nil when publishing is opted out (`MEMPROBE_PUBLISH=0`).
    package static func create() throws(StatsPublishError) -> StatsFilePublisher? {
        if PublishedStatsLocation.isOptedOut { return nil }
        let uid = geteuid()
        let dir = PublishedStatsLocation.directory(uid: uid)
        try prepareDirectory(dir, uid: uid)
        let pid = getpid()
        removeStaleFiles(in: dir, except: pid)
        let path = "\(dir)/\(pid).stats"
        let temp = "\(dir)/.\(pid).stats.tmp"
        unlink(temp)
        let fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system("open(\(temp))", errno: errno) }
        defer { close(fd) }
        let size = PublishedStatsLayout.fileBytes
        guard ftruncate(fd, off_t(size)) == 0 else {
            let e = errno
            unlink(temp)
            throw .system("ftruncate(\(temp))", errno: e)
        }
        guard let m = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), m != MAP_FAILED else {
            let e = errno
            unlink(temp)
            throw .system("mmap(\(temp))", errno: e)
        }
        let publisher = StatsFilePublisher(path: path, base: m)
        publisher.writeHeader(pid: pid, startTime: ProcessStartTime.read(pid: nil) ?? 0)
        guard rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            munmap(m, size)
            throw .system("rename(\(temp), \(path))", errno: e)
        }
        ExitCleanup.register(path)
        return publisher
    }

    private init(path: String, base: UnsafeMutableRawPointer) {
        self.path = path
        self.base = base
    }

    deinit { remove() }

    /// The directory must be ours, a real directory and closed to others; created 0700 when missing.
    private static func prepareDirectory(_ dir: String, uid: uid_t) throws(StatsPublishError) {
        let parent = PublishedStatsLocation.base
        var pst = stat()
        guard stat(parent, &pst) == 0, (pst.st_mode & S_IFMT) == S_IFDIR else {
            throw .unsafeDirectory(parent, reason: "missing or not a directory")
        }
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw .system("mkdir(\(dir))", errno: errno) }
        var st = stat()
        guard lstat(dir, &st) == 0 else { throw .system("lstat(\(dir))", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .unsafeDirectory(dir, reason: "not a directory (a symlink?)") }
        guard st.st_uid == uid else { throw .unsafeDirectory(dir, reason: "owned by uid \(st.st_uid), not \(uid)") }
        if st.st_mode & 0o077 != 0 {
            guard chmod(dir, 0o700) == 0 else { throw .system("chmod(\(dir))", errno: errno) }
        }
    }

    /// Removes `<pid>.stats` files whose process is gone or whose pid now names another process.
    package static func removeStaleFiles(in dir: String, except own: Int32) {
        guard let d = opendir(dir) else { return }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasSuffix(".stats"), let pid = Int32(name.dropLast(6)), pid > 0, pid != own else { continue }
            let path = "\(dir)/\(name)"
            if PublishedStatsReader.isStale(path: path, pid: pid) { unlink(path) }
        }
    }

    private func store<T>(_ value: T, at offset: Int) {
        base.storeBytes(of: value, toByteOffset: offset, as: T.self)
    }

    private func writeHeader(pid: Int32, startTime: UInt64) {
        typealias L = PublishedStatsLayout
        store(L.magic, at: L.magicOffset)
        store(L.schemaVersion, at: L.versionOffset)
        store(UInt32(L.headerBytes), at: L.headerBytesOffset)
        store(UInt64(L.fileBytes), at: L.fileBytesOffset)
        store(Int64(pid), at: L.pidOffset)
        store(startTime, at: L.startTimeOffset)
        store(UInt32(L.arenaCapacity), at: L.arenaCapacityOffset)
        store(UInt32(L.arenaRecordBytes), at: L.arenaRecordBytesOffset)
        store(Int64(-1), at: L.GovernorWord.limitBytes.offset)
    }

    private func storeText(_ text: String, at offset: Int, capacity: Int) {
        var n = 0
        for byte in text.utf8 where n < capacity - 1 {
            store(byte, at: offset + n)
            n += 1
        }
        while n < capacity {
            store(UInt8(0), at: offset + n)
            n += 1
        }
    }

    /// Writes the arenas' and the governor's figures in place. No system call, no allocation beyond the arenas'
    /// strategy names.
    package func publish(arenas: [RegisteredArena], governor: GovernorState?) {
        guard !removed else { return }
        typealias L = PublishedStatsLayout
        sequence &+= 1
        store(sequence, at: L.sequenceOffset)  // odd: a write is in progress
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        store(Int64(monotonicNanoseconds()), at: L.updatedOffset)
        let count = min(arenas.count, L.arenaCapacity)
        store(UInt32(count), at: L.arenaCountOffset)
        store(UInt32(arenas.count - count), at: L.arenasOmittedOffset)
        for i in 0..<count {
            let a = arenas[i]
            let r = L.headerBytes + i * L.arenaRecordBytes
            let strategy = a.arena.strategy
            if let t = slotText[i], t.id == a.id, t.label == a.label, t.strategy == strategy {
                // unchanged text
            } else {
                store(Int64(a.id), at: r + L.arenaIDOffset)
                storeText(a.label, at: r + L.arenaLabelOffset, capacity: L.labelBytes)
                storeText(strategy.description, at: r + L.arenaStrategyOffset, capacity: L.strategyBytes)
                slotText[i] = (a.id, a.label, strategy)
            }
            let s = a.arena.stats
            let w = r + L.arenaStatsOffset
            // Every figure of ArenaStats.fields, in that order (the layout's one list; no second list here).
            s.withWords { words in
                for (i, v) in words.enumerated() { store(Int64(v), at: w + 8 * i) }
            }
        }
        writeGovernor(governor)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        sequence &+= 1
        store(sequence, at: L.sequenceOffset)  // even: consistent
    }

    private func writeGovernor(_ g: GovernorState?) {
        typealias W = PublishedStatsLayout.GovernorWord
        func put(_ w: W, _ v: Int?) { store(Int64(v ?? -1), at: w.offset) }
        guard let g else {
            put(.flags, 0)
            return
        }
        var flags = 1
        if g.running { flags |= 2 }
        if g.backingOff { flags |= 4 }
        if g.lastOverrun != nil { flags |= 8 }
        put(.flags, flags)
        put(.limitBytes, g.limitBytes)
        put(.limitSource, MemoryLimitSource.allCases.firstIndex(of: g.limitSource))
        put(.targetBytes, g.targetBytes)
        put(.cgroupLimitBytes, g.cgroupLimitBytes)
        put(.watched, GovernorState.WatchedFigure.allCases.firstIndex(of: g.watched))
        put(.watchedBytes, g.watchedBytes)
        put(.releasedBytes, g.releasedBytes)
        put(.releaseCalls, g.releaseCalls)
        put(.limitReleasedBytes, g.limitReleasedBytes)
        put(.trimCalls, g.trimCalls)
        put(.trimReleasedBytes, g.trimReleasedBytes)
        put(.cpuNanoseconds, g.cpuNanoseconds)
        put(.runNanoseconds, g.runNanoseconds)
        put(.ticks, g.ticks)
        put(.overrunCount, g.overrunCount)
        put(.lastOverrunUnixSeconds, g.lastOverrun?.unixSeconds)
        put(.lastOverrunWatchedBytes, g.lastOverrun?.watchedBytes)
        put(.lastOverrunLimitBytes, g.lastOverrun?.limitBytes)
        put(.mallocInUseBytes, g.mallocInUseBytes)
        put(.mallocFreeBytes, g.mallocFreeBytes)
    }

    /// A request a tool wrote into the file that the governor has not answered yet.
    package func pendingRequest() -> PublishedRequest? {
        typealias L = PublishedStatsLayout
        let requested = base.load(fromByteOffset: L.requestSequenceOffset, as: UInt64.self)
        let answered = base.load(fromByteOffset: L.replySequenceOffset, as: UInt64.self)
        guard requested != answered else { return nil }
        atomicMemoryFence(ordering: .acquiring)
        let kind = base.load(fromByteOffset: L.requestKindOffset, as: UInt32.self)
        let length = min(Int(base.load(fromByteOffset: L.requestPathLengthOffset, as: UInt32.self)), L.requestPathCapacity)
        let bytes = UnsafeRawBufferPointer(start: base + L.requestPathOffset, count: length)
        return PublishedRequest(sequence: requested, kind: kind, path: String(decoding: bytes, as: UTF8.self))
    }

    /// Answers `request` (status 0: done; else an errno value).
    package func reply(to request: PublishedRequest, status: Int32) {
        typealias L = PublishedStatsLayout
        store(Int64(status), at: L.replyStatusOffset)
        atomicMemoryFence(ordering: .releasing)
        store(request.sequence, at: L.replySequenceOffset)
    }

    /// Unmaps and deletes the file (idempotent).
    package func remove() {
        guard !removed else { return }
        removed = true
        munmap(base, PublishedStatsLayout.fileBytes)
        unlink(path)
        ExitCleanup.unregister(path)
    }
}

/// Deletes the published file when the process exits normally without shutting the governor down.
enum ExitCleanup {
    nonisolated(unsafe) static var path: UnsafeMutablePointer<CChar>?
    static let lock = PthreadLock(false)

    static func register(_ p: String) {
        lock.withLock { registered in
            free(path)
            path = strdup(p)
            if !registered {
                registered = true
                atexit { if let p = ExitCleanup.path { unlink(p) } }
            }
        }
    }

    static func unregister(_ p: String) {
        lock.withLock { _ in
            if let current = path, String(cString: current) == p {
                free(current)
                path = nil
            }
        }
    }
}
