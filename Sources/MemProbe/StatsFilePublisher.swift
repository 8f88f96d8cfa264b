#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import Synchronization

/// Why publishing could not start (the governor logs it at debug level and runs without publishing).
package enum StatsPublishError: Error, Equatable, CustomStringConvertible {
    case unsafeDirectory(String, reason: String)
    /// A system call failed: the call with its path, and the errno.
    case system(String, errno: Int32)

    init(_ error: SystemCallError) { self = .system(error.call, errno: error.errno.rawValue) }

    package var description: String {
        switch self {
        case .unsafeDirectory(let d, let reason): "\(d): \(reason); not publishing"
        case .system(let call, let e): "\(call): \(String(cString: strerror(e))) (errno \(e))"
        }
    }
}

/// The process's published-stats file, mapped shared: ``publish(arenas:governor:)`` writes it in place under a
/// sequence lock with plain stores — no system call — so the governor can publish every tick.
///
/// Used from one thread at a time (the governor's); the file is owner-only in an owner-only directory, removed by
/// ``remove()`` and at normal process exit (atexit). Every system call it makes goes through MemProbeSystem's
/// choke points (``SystemFile``, ``FileMapping``, ``FileSystem``).
package final class StatsFilePublisher: @unchecked Sendable {
    package let path: String
    private let mapping: FileMapping
    /// `mapping.base`, kept here so a publication is plain stores from one pointer.
    private let base: UnsafeMutableRawPointer
    private var sequence: UInt64 = 0
    private var removed = false
    /// What each arena slot's text fields hold, so labels and strategy names are re-encoded only when they change.
    private var slotText: [(id: Int, label: String, strategy: ReleaseStrategy)?] =
        Array(repeating: nil, count: PublishedStatsLayout.arenaCapacity)

    /// Creates (or replaces) `<dir>/<pid>.stats`, after removing files of dead or reused pids in the directory.
    ///
    /// The file is created as `.<pid>.stats.tmp` (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600), sized, mapped shared,
    /// given its header and renamed into place; when any step fails the temporary file is removed and nothing is
    /// left under either name.
    /// - Parameter directory: the per-user directory (default `PublishedStatsLocation.directory(uid:)`; tests pass
    ///   their own). Its parent must exist; it is created 0700 when missing.
    /// - Returns: nil when publishing is opted out (`MEMPROBE_PUBLISH=0`).
    package static func create(directory: String? = nil) throws(StatsPublishError) -> StatsFilePublisher? {
        if PublishedStatsLocation.isOptedOut { return nil }
        let uid = geteuid()
        let dir = directory ?? PublishedStatsLocation.directory(uid: uid)
        try prepareDirectory(dir, parent: directory.map(parentDirectory) ?? PublishedStatsLocation.base, uid: uid)
        let pid = getpid()
        removeStaleFiles(in: dir, except: pid)
        let path = "\(dir)/\(pid).stats"
        let temp = "\(dir)/.\(pid).stats.tmp"
        _ = try? FileSystem.removeFile(temp)  // left by a process that had this pid and died mid-create
        let mapping: FileMapping
        do { mapping = try mapNewFile(temp, byteCount: PublishedStatsLayout.fileBytes) } catch { throw StatsPublishError(error) }
        let publisher = StatsFilePublisher(path: path, mapping: mapping)
        publisher.writeHeader(pid: pid, startTime: ProcessStartTime.read(pid: nil) ?? 0)
        do {
            try FileSystem.rename(temp, to: path)
        } catch {
            _ = try? FileSystem.removeFile(temp)
            publisher.removed = true  // never published: deinit must not remove another file under `path`
            _ = try? mapping.unmap()
            throw StatsPublishError(error)
        }
        ExitCleanup.register(path)
        return publisher
    }

    private init(path: String, mapping: FileMapping) {
        self.path = path
        self.mapping = mapping
        self.base = mapping.base
    }

    deinit { remove() }

    /// Creates `path` (`O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC`, 0600), sizes it and maps it shared; removes it
    /// again when a step fails.
    private static func mapNewFile(_ path: String, byteCount: Int) throws(SystemCallError) -> FileMapping {
        let file = try SystemFile.createNew(path, .readWrite, permissions: 0o600)
        let mapping: FileMapping
        do {
            try file.truncate(toByteCount: byteCount)
            mapping = try FileMapping(file, byteCount: byteCount, access: .sharedReadWrite)
        } catch {
            _ = try? FileSystem.removeFile(path)
            throw error
        }
        // The mapping keeps the file; the descriptor is no longer needed (a tmpfs close has nothing to report).
        _ = try? file.close()
        return mapping
    }

    private static func parentDirectory(_ dir: String) -> String {
        guard let slash = dir.lastIndex(of: "/") else { return "." }
        return slash == dir.startIndex ? "/" : String(dir[..<slash])
    }

    /// The directory must be ours, a real directory and closed to others; created 0700 when missing.
    private static func prepareDirectory(_ dir: String, parent: String, uid: uid_t) throws(StatsPublishError) {
        guard let p = try? FileSystem.status(ofPath: parent), p.kind == .directory else {
            throw .unsafeDirectory(parent, reason: "missing or not a directory")
        }
        do {
            try FileSystem.makeDirectory(dir, permissions: 0o700)
        } catch where error.errno == .fileExists {
            // already there: checked below
        } catch {
            throw StatsPublishError(error)
        }
        let st: FileStatus
        do { st = try FileSystem.status(ofPath: dir, followSymlinks: false) } catch { throw StatsPublishError(error) }
        guard st.kind == .directory else { throw .unsafeDirectory(dir, reason: "not a directory (a symlink?)") }
        guard st.ownerID == uid else { throw .unsafeDirectory(dir, reason: "owned by uid \(st.ownerID), not \(uid)") }
        if st.permissions & 0o077 != 0 {
            do { try FileSystem.setPermissions(0o700, ofPath: dir) } catch { throw StatsPublishError(error) }
        }
    }

    /// Removes `<pid>.stats` files whose process is gone or whose pid now names another process.
    package static func removeStaleFiles(in dir: String, except own: Int32) {
        guard let entries = try? FileSystem.directoryEntries(dir) else { return }
        for entry in entries {
            let name = entry.name
            guard name.hasSuffix(".stats"), let pid = Int32(name.dropLast(6)), pid > 0, pid != own else { continue }
            let path = "\(dir)/\(name)"
            if PublishedStatsReader.isStale(path: path, pid: pid) { _ = try? FileSystem.removeFile(path) }
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
        _ = try? mapping.unmap()
        _ = try? FileSystem.removeFile(path)
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
                atexit { if let p = ExitCleanup.path { _ = try? FileSystem.removeFile(String(cString: p)) } }
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
