import MemProbeSystem

/// One size-classed page: which blocks are in use (bit set = used; bits past the capacity start set).
struct Slab {
    var sizeClass: Int
    var used: Int
    var capacity: Int
    var bits: [UInt64]
    /// Position in `partial[sizeClass]`, or -1 when full / spare.
    var partialSlot: Int = -1
}

/// Everything the arena mutates, guarded by the arena's allocation lock.
///
/// Free page runs are keyed by address (`runs`, `runEnds` for the left neighbour) and indexed per state by
/// (pages, address) for best fit. Runs coalesce only with neighbours in the same state, so a run's state is
/// exact and reusing a released run never mixes dirty pages into "released" bytes (jemalloc keeps its dirty,
/// muzzy and retained extents apart for the same reason).
struct ArenaCore {
    let pageSize: Int
    /// The release granularity: the page size, or 2 MiB in huge-page mode (releases are rounded inward to it).
    let releaseUnit: Int
    let configuration: PageArena.Configuration
    var strategy: ReleaseStrategy

    var stats = ArenaStats()
    var extents = MappedExtents()
    var runs = AddressTable<FreeRun>()
    var runEnds = AddressTable<UInt>()
    var index: [StateIndex] = Array(repeating: StateIndex(), count: RunState.allCases.count)
    #if DEBUG
    /// Debug builds only: live page-run allocations, start → requested bytes, so a wrong size, a double free or
    /// a foreign pointer is caught at the `deallocate` call instead of corrupting the free-run books.
    var live = AddressTable<Int>()
    #endif
    /// Deadlines of dirty runs (decay, and the "release soon" of dontNeed/lazyFree/unmap/freeThenPageOut).
    var dirtyQueue = PendingQueue()
    /// Deadlines of lazy runs (freeThenPageOut's PAGEOUT step).
    var lazyQueue = PendingQueue()
    /// Set when automatic release hit an error; cleared by a successful `release()` or `setStrategy`.
    var autoSuspended = false
    var lastDeferredError: ArenaError?
    /// Opt-in dirty-page reserve for churn (DirtyReserve.swift).
    var reserve: DirtyReserve

    var slabs = AddressTable<Slab>()
    /// Per size class: pages with at least one free block (the last one is used first).
    var partial: [[UInt]]
    /// Per size class: at most one empty page kept so alternating alloc/free of one block does not
    /// fault + release a page each time. Counted in HeapInuse; `release()` gives it back.
    var spare: [UInt?]

    init(strategy: ReleaseStrategy, configuration: PageArena.Configuration) {
        self.pageSize = VirtualMemory.pageSize
        self.releaseUnit = configuration.hugePages ? VirtualMemory.hugePageSize : VirtualMemory.pageSize
        self.configuration = configuration
        self.strategy = strategy
        self.reserve = DirtyReserve(window: configuration.dirtyReserveWindow)
        self.partial = Array(repeating: [], count: SizeClasses.sizes.count)
        self.spare = Array(repeating: nil, count: SizeClasses.sizes.count)
    }

    // MARK: - Published figures

    var snapshot: ArenaStats {
        var s = stats
        s.sys = extents.totalBytes
        s.heapReleased = s.heapReleasedLazy + s.heapReleasedDiscarded
        return s
    }

    // MARK: - System calls (counted and timed)

    mutating func sysMap(byteCount: Int) throws(VirtualMemoryError) -> UInt {
        let t0 = monotonicNanoseconds()
        defer { stats.syscallNanoseconds += monotonicNanoseconds() - t0 }
        stats.mmapCalls += 1
        let p: UnsafeMutableRawPointer
        if configuration.hugePages {
            p = try VirtualMemory.map(byteCount: byteCount, alignment: VirtualMemory.hugePageSize)
        } else {
            p = try VirtualMemory.map(byteCount: byteCount)
        }
        stats.mmapBytes += byteCount
        return UInt(bitPattern: p)
    }

    mutating func sysUnmap(_ start: UInt, byteCount: Int) throws(VirtualMemoryError) {
        let t0 = monotonicNanoseconds()
        defer { stats.syscallNanoseconds += monotonicNanoseconds() - t0 }
        stats.munmapCalls += 1
        try VirtualMemory.unmap(UnsafeMutableRawPointer(bitPattern: start)!, byteCount: byteCount)
        stats.munmapBytes += byteCount
    }

    mutating func sysAdvise(_ start: UInt, byteCount: Int, _ advice: MemoryAdvice) throws(VirtualMemoryError) {
        let t0 = monotonicNanoseconds()
        defer { stats.syscallNanoseconds += monotonicNanoseconds() - t0 }
        stats.madviseCalls += 1
        try VirtualMemory.advise(UnsafeMutableRawPointer(bitPattern: start)!, byteCount: byteCount, advice)
        stats.madviseBytes += byteCount
    }

    // MARK: - Free runs

    private mutating func account(_ state: RunState, _ bytes: Int) {
        stats.heapIdle += bytes
        switch state {
        case .dirty: break
        case .lazy: stats.heapReleasedLazy += bytes
        case .released: stats.heapReleasedDiscarded += bytes
        }
    }

    /// Does the current strategy act on runs of `state` (so they need a deadline entry)?
    func queues(_ state: RunState) -> Bool {
        switch (strategy, state) {
        case (.retain, _): false
        case (.lazyFree, .dirty), (.dontNeed, .dirty), (.unmap, .dirty), (.decay, .dirty): true
        case (.freeThenPageOut, .dirty), (.freeThenPageOut, .lazy): true
        default: false
        }
    }

    /// Adds a free run, merging it with free neighbours in the same state (the merged run takes the newest stamp).
    /// - Returns: the start of the resulting run.
    @discardableResult
    mutating func addFree(start: UInt, pages: Int, state: RunState, stamp: Int, enqueue: Bool = true) -> UInt {
        var s = start
        var n = pages
        var st = stamp
        let ps = UInt(pageSize)
        if let leftStart = runEnds[s], let left = runs[leftStart], left.state == state {
            removeFree(start: leftStart)
            s = leftStart
            n += left.pages
            st = max(st, left.stamp)
        }
        let end = s + UInt(n) * ps
        if let right = runs[end], right.state == state {
            removeFree(start: end)
            n += right.pages
            st = max(st, right.stamp)
        }
        let slot = index[state.rawValue].insert(start: s, pages: n)
        runs[s] = FreeRun(pages: n, state: state, stamp: st, slot: slot)
        runEnds[s + UInt(n) * ps] = s
        account(state, n * pageSize)
        if enqueue && queues(state) {
            if state == .dirty { dirtyQueue.push(PendingEntry(start: s, stamp: st)) }
            else { lazyQueue.push(PendingEntry(start: s, stamp: st)) }
        }
        return s
    }

    @discardableResult
    mutating func removeFree(start: UInt) -> FreeRun {
        guard let run = runs.removeValue(forKey: start) else { preconditionFailure("no free run at \(start)") }
        runEnds[start + UInt(run.pages * pageSize)] = nil
        if let (moved, slot) = index[run.state.rawValue].remove(start: start, pages: run.pages, slot: run.slot) {
            runs[existing: moved].slot = slot
        }
        account(run.state, -run.pages * pageSize)
        return run
    }

    /// Takes `pages` pages from the best-fitting free run, preferring dirty, then lazy, then released runs.
    ///
    /// The pages are cut from the run's high end, so the remainder keeps its start: its address-map entry,
    /// neighbours and deadline entry stay valid and only its length changes.
    mutating func takeFreePages(_ pages: Int) -> UInt? {
        for state in RunState.allCases {
            guard let start = index[state.rawValue].bestFit(pages: pages) else { continue }
            guard let i = runs.slot(forKey: start) else { preconditionFailure("free-run index out of sync") }
            let run = runs[slot: i]
            if run.pages == pages {
                removeFree(start: start)
                return start
            }
            let ps = UInt(pageSize)
            let keep = run.pages - pages
            if let (moved, slot) = index[state.rawValue].remove(start: start, pages: run.pages, slot: run.slot) {
                runs[existing: moved].slot = slot
            }
            let slot = index[state.rawValue].insert(start: start, pages: keep)
            runs[slot: i].pages = keep
            runs[slot: i].slot = slot
            runEnds[start + UInt(run.pages) * ps] = nil
            runEnds[start + UInt(keep) * ps] = start
            account(state, -pages * pageSize)
            let taken = start + UInt(keep) * ps
            if state != .dirty && releaseUnit > pageSize {
                markSharedHugePageDirty(runStart: start, allocationStart: taken, state: state)
            }
            return taken
        }
        return nil
    }

    /// Huge-page mode: the part of a lazy/released remainder that shares a 2 MiB unit with the allocation just cut
    /// from it is faulted in (or made non-lazy) together with that huge page as soon as the allocation is written,
    /// so it is no longer "released": it becomes a dirty run. When the allocation is freed its pages merge with this
    /// run and the whole unit can be released again. Without this, a fully idle arena kept a dirty sub-unit run next
    /// to a released one (each too small to release on its own, as runs in different states do not merge) and
    /// counted resident pages as released (`mincore` > Sys − discarded). It also keeps every lazy and released run
    /// 2 MiB-aligned, which the inward rounding of releases relies on.
    private mutating func markSharedHugePageDirty(runStart start: UInt, allocationStart a: UInt, state: RunState) {
        let unit = UInt(releaseUnit), ps = UInt(pageSize)
        let cut = max(start, a / unit * unit)
        guard cut < a else { return }
        let run = removeFree(start: start)
        if cut > start {
            // Same start and stamp: its deadline entry (freeThenPageOut's PAGEOUT of lazy runs) stays valid.
            addFree(start: start, pages: Int((cut - start) / ps), state: state, stamp: run.stamp, enqueue: false)
        }
        addFree(start: cut, pages: Int((a - cut) / ps), state: .dirty, stamp: queues(.dirty) ? monotonicNanoseconds() : 0)
    }

    // MARK: - Page runs

    /// Maps a new region big enough for `pages` and adds it as one released (untouched) free run.
    mutating func grow(pages: Int) throws(ArenaError) {
        let need = pages * pageSize
        let unit = releaseUnit
        func roundUp(_ n: Int) -> Int { (n + unit - 1) / unit * unit }
        let regular = roundUp(configuration.regionSize)
        // A request bigger than a region gets a region of its own.
        var size = need > regular ? roundUp(need) : regular
        var start: UInt
        do {
            start = try sysMap(byteCount: size)
        } catch {
            // Under RLIMIT_AS a whole region may not fit while the request itself would.
            guard roundUp(need) < size else { throw .outOfMemory(requested: need, underlying: error) }
            size = roundUp(need)
            do { start = try sysMap(byteCount: size) } catch { throw .outOfMemory(requested: need, underlying: error) }
        }
        extents.add(start: start, byteCount: size)
        if configuration.hugePages {
            // Best effort: a kernel without THP answers EINVAL and the region simply stays 4 KiB-backed.
            try? sysAdvise(start, byteCount: size, .hugePage)
        }
        try applyNUMAPolicy(toNewRegion: start, byteCount: size)
        addFree(start: start, pages: size / pageSize, state: .released, stamp: monotonicNanoseconds(), enqueue: false)
    }

    mutating func allocatePages(_ pages: Int) throws(ArenaError) -> UInt {
        let start: UInt
        if let s = takeFreePages(pages) {
            start = s
        } else {
            try grow(pages: pages)
            guard let s = takeFreePages(pages) else { preconditionFailure("fresh region does not fit its request") }
            start = s
        }
        stats.heapInuse += pages * pageSize
        reserve.noteInuse(stats.heapInuse)
        return start
    }

    mutating func freePages(_ start: UInt, pages: Int) {
        stats.heapInuse -= pages * pageSize
        // The clock is read only when a deadline will be kept (setStrategy restamps idle runs).
        addFree(start: start, pages: pages, state: .dirty, stamp: queues(.dirty) ? monotonicNanoseconds() : 0)
    }

    // MARK: - Allocation entry points

    mutating func allocate(byteCount: Int, alignment: Int) throws(ArenaError) -> UInt {
        let address: UInt
        if let c = SizeClasses.classIndex(byteCount: byteCount, alignment: alignment) {
            address = try allocateBlock(sizeClass: c)
        } else {
            let pages = (byteCount + pageSize - 1) / pageSize
            address = try allocatePages(max(pages, 1))
            #if DEBUG
            live[address] = byteCount
            #endif
        }
        stats.alloc += byteCount
        return address
    }

    mutating func deallocate(_ address: UInt, byteCount: Int) {
        let page = address & ~UInt(pageSize - 1)
        if byteCount <= SizeClasses.smallLimit, freeBlockIfSlab(address, page: page, byteCount: byteCount) {
            // done
        } else {
            #if DEBUG
            guard let requested = live.removeValue(forKey: address) else {
                preconditionFailure("deallocate: \(address) is not a live allocation of this arena (double free?)")
            }
            precondition(requested == byteCount, "deallocate: size \(byteCount) does not match the allocation's \(requested)")
            #else
            precondition(address & UInt(pageSize - 1) == 0 && runs[address] == nil, "deallocate: \(address) is not a live page run")
            #endif
            freePages(address, pages: max((byteCount + pageSize - 1) / pageSize, 1))
        }
        stats.alloc -= byteCount
    }

    // MARK: - Small blocks

    mutating func allocateBlock(sizeClass c: Int) throws(ArenaError) -> UInt {
        let page: UInt
        if let p = partial[c].last {
            page = p
        } else if let p = spare[c] {
            spare[c] = nil
            page = p
            pushPartial(c, p, at: slabs.slot(forKey: p)!)
        } else {
            let p = try allocatePages(1)
            let capacity = pageSize / SizeClasses.sizes[c]
            var bits = [UInt64](repeating: 0, count: (capacity + 63) / 64)
            let tail = capacity % 64
            if tail != 0 { bits[bits.count - 1] = ~UInt64(0) << UInt64(tail) }
            slabs[p] = Slab(sizeClass: c, used: 0, capacity: capacity, bits: bits)
            page = p
            pushPartial(c, p, at: slabs.slot(forKey: p)!)
        }
        // One hash lookup; the slab is then updated in place through its index.
        let i = slabs.slot(forKey: page)!
        var slot = 0
        let full: Bool = slabs.withValue(slot: i) { slab in
            var w = 0
            while slab.bits[w] == ~UInt64(0) { w += 1 }
            let b = (~slab.bits[w]).trailingZeroBitCount
            slab.bits[w] |= 1 << UInt64(b)
            slab.used += 1
            slot = w * 64 + b
            return slab.used == slab.capacity
        }
        if full { removePartial(c, page, at: i) }
        return page + UInt(slot * SizeClasses.sizes[c])
    }

    /// Frees a small block if `address` lies in a slab page; false when it does not.
    mutating func freeBlockIfSlab(_ address: UInt, page: UInt, byteCount: Int) -> Bool {
        guard let i = slabs.slot(forKey: page) else { return false }
        var c = 0, nowEmpty = false, wasFull = false
        slabs.withValue(slot: i) { slab in
            c = slab.sizeClass
            let size = SizeClasses.sizes[c]
            let offset = Int(address - page)
            precondition(offset % size == 0, "deallocate: \(address) is not the start of a block")
            precondition(byteCount <= size, "deallocate: size \(byteCount) does not match the block's size class \(size)")
            let slot = offset / size
            let bit = UInt64(1) << UInt64(slot % 64)
            precondition(slab.bits[slot / 64] & bit != 0, "deallocate: double free of \(address)")
            wasFull = slab.used == slab.capacity
            slab.bits[slot / 64] &= ~bit
            slab.used -= 1
            nowEmpty = slab.used == 0
        }
        if wasFull { pushPartial(c, page, at: i) }
        if nowEmpty {
            removePartial(c, page, at: i)
            if spare[c] == nil {
                spare[c] = page
            } else {
                slabs[page] = nil
                freePages(page, pages: 1)
            }
        }
        return true
    }

    mutating func pushPartial(_ c: Int, _ page: UInt, at i: Int) {
        slabs[slot: i].partialSlot = partial[c].count
        partial[c].append(page)
    }

    /// O(1): swap-remove, patching the moved slab's slot.
    mutating func removePartial(_ c: Int, _ page: UInt, at i: Int) {
        let slot = slabs[slot: i].partialSlot
        precondition(slot >= 0 && partial[c][slot] == page, "partial list out of sync")
        slabs[slot: i].partialSlot = -1
        let last = partial[c].removeLast()
        if last != page {
            partial[c][slot] = last
            slabs[existing: last].partialSlot = slot
        }
    }

    /// Returns every spare empty slab page to the page heap.
    mutating func dropSpares() {
        for c in spare.indices {
            if let p = spare[c] {
                spare[c] = nil
                slabs[p] = nil
                freePages(p, pages: 1)
            }
        }
    }

    /// Unmaps everything (arena teardown).
    mutating func unmapAll() {
        for r in extents.ranges {
            try? VirtualMemory.unmap(UnsafeMutableRawPointer(bitPattern: r.start)!, byteCount: r.byteCount)
        }
    }
}

