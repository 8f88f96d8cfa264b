#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem
import Synchronization

/// Per-thread caches of small blocks (`Configuration.threadCache`): allocate and free of 16–256 B blocks without the
/// arena lock.
///
/// **Accounting.** The core counts cached blocks as in use (HeapInuse) and not in Alloc; each cache counts the
/// requested bytes it handed out (`popped`) and took back (`pushed`), both monotonic and written only by its
/// thread. `stats` returns the core's snapshot with Alloc += Σ popped − Σ pushed, read in this order: every
/// `popped`, then the core snapshot, then every `pushed`. A block counted in that `popped` was refilled into a cache
/// before (so its page is in the snapshot's HeapInuse), and a block flushed back to the core before the snapshot was
/// pushed before that (so it is subtracted): the sum never exceeds the snapshot's HeapInuse, whatever the threads
/// do meanwhile. When `popped` did not move during the read the figure is exact at one instant; the read is retried
/// a few times for that. Thread exit folds a cache's counters into the core's Alloc, under the registry lock that
/// readers also hold, so no reader sees a cache both retired and live.
extension PageArena {
    /// The calling thread's cache for this arena.
    @inline(__always)
    func threadCache() -> UnsafeMutablePointer<ThreadCache> {
        let table = ThreadCacheRegistry.table(key: threadCacheKey)
        if table.pointee.lastID == threadCacheID, let c = table.pointee.last { return c }
        return findOrCreateThreadCache(table)
    }

    @inline(never)
    func findOrCreateThreadCache(_ table: UnsafeMutablePointer<ThreadCacheTable>) -> UnsafeMutablePointer<ThreadCache> {
        var found: UnsafeMutablePointer<ThreadCache>? = nil
        let id = threadCacheID
        // Caches of arenas that died since are freed here (their arena disowned them under the registry lock).
        table.pointee.entries.removeAll { c in
            if c.pointee.counters[ThreadCache.dead].load(ordering: .acquiring) != 0 {
                ThreadCache.destroy(c)
                return true
            }
            if c.pointee.arenaID == id { found = c }
            return false
        }
        let cache: UnsafeMutablePointer<ThreadCache>
        if let found {
            cache = found
        } else {
            cache = ThreadCache.create(arenaID: id, arena: self)
            ThreadCacheRegistry.register(cache)
            table.pointee.entries.append(cache)
        }
        table.pointee.lastID = id
        table.pointee.last = cache
        return cache
    }

    // MARK: - Allocate / deallocate

    /// `allocate` for byteCount ≤ ``ThreadCache/maxBlockSize`` on an arena with thread caches.
    @inline(__always)
    func allocateThroughThreadCache(byteCount: Int, alignment: Int) throws(ArenaError) -> UnsafeMutableRawPointer {
        let cache = threadCache().pointee
        let c = cache.sizeClass(byteCount)
        if alignment > 16 && SizeClasses.classIndex(byteCount: byteCount, alignment: alignment) != c {
            return try allocateUnusuallyAligned(byteCount: byteCount, alignment: alignment)
        }
        let n = cache.counts[c]
        if n > 0 {
            let block = cache.slots[cache.offset(c) + n - 1]
            cache.counts[c] = n - 1
            cache.bump(ThreadCache.popped, byteCount)
            cache.bump(ThreadCache.cachedBytes, -cache.blockSize(c))
            return UnsafeMutableRawPointer(bitPattern: block)!
        }
        return try refillThenAllocate(cache, sizeClass: c, byteCount: byteCount)
    }

    @inline(never)
    func refillThenAllocate(_ cache: ThreadCache, sizeClass c: Int, byteCount: Int) throws(ArenaError) -> UnsafeMutableRawPointer {
        let want = max(1, cache.capacity(c) / 2)
        let base = cache.slots + cache.offset(c)
        let got = try core.withLock { (core: inout ArenaCore) throws(ArenaError) -> Int in
            let k = try core.takeBlocks(sizeClass: c, into: base, count: want)
            core.pumpAfterCall()
            published.publish(core.snapshot)
            return k
        }
        // The newest block (the last taken) goes to the caller; the rest stay cached.
        cache.counts[c] = got - 1
        cache.bump(ThreadCache.cachedBytes, (got - 1) * cache.blockSize(c))
        cache.bump(ThreadCache.popped, byteCount)
        return UnsafeMutableRawPointer(bitPattern: base[got - 1])!
    }

    /// A small request whose alignment needs another class than its size's (e.g. 48 B aligned to 32 comes from
    /// the 64 B class): served under the lock, and counted, so `deallocate` — which only sees the size — knows
    /// such blocks exist and checks the block's real class before caching it.
    func allocateUnusuallyAligned(byteCount: Int, alignment: Int) throws(ArenaError) -> UnsafeMutableRawPointer {
        let address = try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> UInt in
            let a = try c.allocate(byteCount: byteCount, alignment: alignment)
            unusuallyAlignedBlocks.add(1, ordering: .relaxed)
            c.pumpAfterCall()
            published.publish(c.snapshot)
            return a
        }
        return UnsafeMutableRawPointer(bitPattern: address)!
    }

    /// `deallocate` for byteCount ≤ ``ThreadCache/maxBlockSize`` on an arena with thread caches.
    @inline(__always)
    func deallocateThroughThreadCache(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let address = UInt(bitPattern: pointer)
        if unusuallyAlignedBlocks.load(ordering: .acquiring) != 0 && deallocateIfUnusuallyAligned(address, byteCount: byteCount) {
            return
        }
        let cache = threadCache().pointee
        let c = cache.sizeClass(byteCount)
        var n = cache.counts[c]
        let base = cache.slots + cache.offset(c)
        #if DEBUG
        precondition(!UnsafeBufferPointer(start: base, count: n).contains(address), "deallocate: double free of \(address)")
        precondition((address & UInt(VirtualMemory.pageSize - 1)) % UInt(cache.blockSize(c)) == 0,
                     "deallocate: \(address) is not a block of \(cache.blockSize(c)) B")
        #endif
        if n == cache.capacity(c) {
            flush(cache, sizeClass: c, count: n / 2)
            n = cache.counts[c]
        }
        base[n] = address
        cache.counts[c] = n + 1
        cache.bump(ThreadCache.pushed, byteCount)
        cache.bump(ThreadCache.cachedBytes, cache.blockSize(c))
    }

    /// True when `address` was one of the unusually aligned blocks (then it was freed under the lock).
    @inline(never)
    func deallocateIfUnusuallyAligned(_ address: UInt, byteCount: Int) -> Bool {
        let c16 = SizeClasses.classIndex(byteCount: byteCount, alignment: 16)
        return core.withLock { c in
            let page = address & ~UInt(VirtualMemory.pageSize - 1)
            if let slab = c.slabs[page], slab.sizeClass == c16 { return false }
            c.deallocate(address, byteCount: byteCount)
            unusuallyAlignedBlocks.subtract(1, ordering: .relaxed)
            c.pumpAfterCall()
            if c.wantsBackgroundDrain { requestBackgroundDrain() }
            published.publish(c.snapshot)
            return true
        }
    }

    /// Returns the `count` oldest blocks of class `c` to the core.
    @inline(never)
    func flush(_ cache: ThreadCache, sizeClass c: Int, count: Int) {
        let n = cache.counts[c]
        guard count > 0, n > 0 else { return }
        let k = min(count, n)
        let base = cache.slots + cache.offset(c)
        let size = cache.blockSize(c)
        core.withLock { core in
            core.returnBlocks(sizeClass: c, from: base, count: k)
            core.pumpAfterCall()
            if core.wantsBackgroundDrain { requestBackgroundDrain() }
            published.publish(core.snapshot)
        }
        for i in 0..<(n - k) { base[i] = base[i + k] }  // the newer blocks move down (a forward copy: safe)
        cache.counts[c] = n - k
        cache.bump(ThreadCache.cachedBytes, -k * size)
    }

    /// Returns every block of the calling thread's cache to the core (`release()` does this first). A thread that
    /// never used this arena has no cache and none is created.
    func flushCallingThreadCache() {
        guard threadCacheID != 0, let raw = pthread_getspecific(threadCacheKey) else { return }
        let table = raw.assumingMemoryBound(to: ThreadCacheTable.self)
        let id = threadCacheID
        guard let p = table.pointee.lastID == id ? table.pointee.last : table.pointee.entries.first(where: { $0.pointee.arenaID == id })
        else { return }
        let cache = p.pointee
        for c in 0..<ThreadCacheLayout.classCount { flush(cache, sizeClass: c, count: cache.counts[c]) }
    }

    /// Thread exit (registry lock held): flush everything and fold the cache's Alloc share into the core's books.
    func retireThreadCache(_ p: UnsafeMutablePointer<ThreadCache>) {
        let cache = p.pointee
        for c in 0..<ThreadCacheLayout.classCount { flush(cache, sizeClass: c, count: cache.counts[c]) }
        let net = cache.counters[ThreadCache.popped].load(ordering: .relaxed) - cache.counters[ThreadCache.pushed].load(ordering: .relaxed)
        core.withLock { core in
            core.stats.alloc += net
            published.publish(core.snapshot)
        }
    }

    // MARK: - Books

    /// The published snapshot with the thread caches' share of Alloc (see the type comment for the read order).
    func statsWithThreadCaches() -> ArenaStats {
        ThreadCacheRegistry.lock.withLock { registry in
            let caches = registry.byArena[threadCacheID] ?? []
            if caches.isEmpty { return published.read() }
            var attempt = 0
            while true {
                var popped = 0
                for c in caches { popped += c.pointee.counters[ThreadCache.popped].load(ordering: .acquiring) }
                var s = published.read()
                var pushed = 0
                for c in caches { pushed += c.pointee.counters[ThreadCache.pushed].load(ordering: .acquiring) }
                var poppedAfter = 0
                for c in caches { poppedAfter += c.pointee.counters[ThreadCache.popped].load(ordering: .acquiring) }
                s.alloc += popped - pushed
                attempt += 1
                // Unchanged `popped`: every push counted belongs to a pop counted, so the sum is one instant's.
                if poppedAfter == popped || attempt == 8 {
                    s.alloc = max(s.alloc, 0)
                    return s
                }
            }
        }
    }

    /// Bytes of free blocks held in thread caches (all threads; exact when the threads are not allocating).
    /// They count in `heapInuse`, not in `alloc`; `release()` returns the calling thread's, thread exit the rest.
    public var threadCachedBytes: Int {
        guard threadCacheID != 0 else { return 0 }
        return ThreadCacheRegistry.lock.withLock { registry in
            (registry.byArena[threadCacheID] ?? []).reduce(0) { $0 + $1.pointee.counters[ThreadCache.cachedBytes].load(ordering: .acquiring) }
        }
    }
}

extension ThreadCache {
    /// Adds to one of this thread's own counters (single writer: a load and a store, no locked instruction).
    @inline(__always)
    func bump(_ i: Int, _ delta: Int) {
        counters[i].store(counters[i].load(ordering: .relaxed) &+ delta, ordering: .releasing)
    }
}
