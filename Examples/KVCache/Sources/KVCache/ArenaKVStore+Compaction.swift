import MemProbe
import ServiceLifecycle

/// What one compaction did.
struct CompactionReport: Sendable {
    /// Values copied to a fuller page.
    var moved = 0
    /// Pages that were at most half full when the pass started (the ones emptied).
    var sourcePages = 0
    /// Blocks held back during the pass because the arena handed out a hole in a page being emptied.
    var parked = 0
    /// RSS that `malloc_trim` gave back after the pass (glibc's free pages: request buffers of the evicting load).
    var trimmedBytes = 0

    var json: String {
        "{\"moved\":\(moved),\"sourcePages\":\(sourcePages),\"parked\":\(parked),\"trimmedBytes\":\(trimmedBytes)}"
    }
}

extension ArenaKVStore {
    /// ``compact(batch:)``, then — when it moved something — one `malloc_trim`: the requests that filled and evicted
    /// the cache left glibc's per-thread heaps with free pages it keeps (tens of MiB here), and a pass runs only
    /// after a large eviction, so the trim's malloc pause (~0.25 s per fragmented GiB) is rare.
    func compactAndTrim() -> CompactionReport {
        var report = compact()
        if report.moved > 0, let t = try? MallocHeap.trim() { report.trimmedBytes = Swift.max(0, t.residentBefore - t.residentAfter) }
        return report
    }

    /// Moves the values of sparse pages (at most half full) into other pages, so the sparse pages empty and the
    /// arena gives them back. Eviction of scattered keys leaves most pages of small values with one live block
    /// each (1 KiB values, keep 1 in 10: ~1/3 of the pages stay in use for 1/10 of the data); no allocator can
    /// return those pages, but the cache can move its own values, because the map holds their only reference.
    ///
    /// The arena picks where a block goes (its most recently partial page first), so a new block that lands in a
    /// page being emptied is parked (kept allocated, unused) until the pass ends: the holes of the sparse pages fill
    /// with parked blocks, then new blocks come from other pages. At most one park per hole the pass starts with or
    /// opens (no new memory: the holes are in pages already resident). Works in batches under the store's lock,
    /// re-checking each value, so requests interleave and a value changed meanwhile is left alone.
    func compact(batch: Int = 512) -> CompactionReport {
        let pageSize = VirtualMemory.pageSize
        let pageMask = ~UInt(pageSize - 1)
        var report = CompactionReport()
        // Live small blocks per page, from the map (the store knows every live block of its arena).
        var occupancy: [UInt: (count: Int, blockSize: Int)] = [:]
        state.withLock { s in
            for (_, slot) in s.map {
                let block = arena.reservedSize(forByteCount: Swift.max(slot.count, 1))
                guard block < pageSize else { continue }
                occupancy[slot.address & pageMask, default: (0, block)].count += 1
            }
        }
        let sources = Set(occupancy.compactMap { page, o in o.count * o.blockSize * 2 <= pageSize ? page : nil })
        report.sourcePages = sources.count
        guard sources.count >= 64 else { return report }  // under 256 KiB to win: not worth a pass
        var moves: [(key: String, address: UInt)] = []
        state.withLock { s in
            for (key, slot) in s.map where sources.contains(slot.address & pageMask) { moves.append((key, slot.address)) }
        }
        var parked: [(UnsafeMutableRawPointer, Int)] = []
        let holes = sources.reduce(0) { total, page in
            let o = occupancy[page]!
            return total + pageSize / o.blockSize - o.count
        }
        var parkBudget = holes + moves.count + 64
        var start = 0
        outer: while start < moves.count {
            let end = Swift.min(start + batch, moves.count)
            let stop = state.withLock { s -> Bool in
                for (key, oldAddress) in moves[start..<end] {
                    guard let slot = s.map[key], slot.address == oldAddress else { continue }
                    let size = Swift.max(slot.count, 1)
                    var destination: UnsafeMutableRawPointer?
                    while parkBudget > 0 {
                        guard let p = try? arena.allocate(byteCount: size) else { return true }
                        if sources.contains(UInt(bitPattern: p) & pageMask) {
                            parked.append((p, size))
                            parkBudget -= 1
                        } else {
                            destination = p
                            break
                        }
                    }
                    guard let destination else { return true }
                    destination.copyMemory(from: UnsafeRawPointer(bitPattern: oldAddress)!, byteCount: slot.count)
                    s.map[key] = Slot(address: UInt(bitPattern: destination), count: slot.count)
                    arena.deallocate(UnsafeMutableRawPointer(bitPattern: oldAddress)!, byteCount: size)
                    report.moved += 1
                }
                return false
            }
            if stop { break outer }
            start = end
        }
        report.parked = parked.count
        for (p, size) in parked { arena.deallocate(p, byteCount: size) }
        return report
    }
}

/// Keeps the arena store's memory close to its data, checked every second:
/// - a compaction pass (``ArenaKVStore/compactAndTrim()``) once the arena's live bytes have settled (Alloc within
///   1 % of a second ago: not in the middle of an eviction, whose every DELETE would re-open the pages just packed)
///   and its in-use pages hold much more than them (HeapInuse > 1.3 × Alloc and more than 4 MiB apart); 30 s
///   back-off after a pass that moved nothing;
/// - one `malloc_trim` when the store has had no PUT or DELETE for 5 s and glibc holds over 16 MiB free (what a load
///   leaves in the per-thread heaps: request and response buffers), then none until the next mutation.
struct KVCompactor: Service {
    let store: ArenaKVStore

    func run() async throws {
        // Graceful shutdown cancels the sleep: that is the normal end, not an error of the service group.
        do { try await loop() } catch is CancellationError {}
    }

    private func loop() async throws {
        try await cancelWhenGracefulShutdown {
            var idleRounds = 0
            var lastAlloc = -1
            var lastMutations = -1
            var quietSeconds = 0
            var trimmedSinceChange = false
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                let s = store.arena.stats
                let mutations = store.mutations
                let settled = lastAlloc >= 0 && abs(s.alloc - lastAlloc) * 100 <= Swift.max(s.alloc, 1)
                lastAlloc = s.alloc
                if mutations == lastMutations { quietSeconds += 1 } else {
                    quietSeconds = 0
                    trimmedSinceChange = false
                }
                lastMutations = mutations
                if idleRounds > 0 {
                    idleRounds -= 1
                } else if settled, s.heapInuse - s.alloc > 4 << 20, Double(s.heapInuse) > 1.3 * Double(s.alloc) {
                    if store.compactAndTrim().moved == 0 { idleRounds = 30 }
                    continue
                }
                if quietSeconds >= 5, !trimmedSinceChange {
                    trimmedSinceChange = true
                    if MallocHeap.info().fordblks > 16 << 20 { _ = try? MallocHeap.trim() }
                }
            }
        }
    }
}
