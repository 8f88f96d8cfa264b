import MemProbeSystem

/// What a release step does to a free run.
enum ReleaseAction {
    case advise(MemoryAdvice, to: RunState)
    /// MADV_FREE then MADV_PAGEOUT: discards dirty pages without swap.
    case freeThenPageOut
    case unmap
}

extension ArenaCore {
    /// Relative cost per byte of a release step, in "4 KiB-page MADV_DONTNEED" units (numerator, denominator),
    /// from the measurements in research/linux-memory-facts.md §1: on 4 KiB pages DONTNEED ≈ munmap ≈ 300–700 ns
    /// per page, FREE ≈ 0.6×, PAGEOUT ≈ 3×; on whole 2 MiB huge pages DONTNEED and munmap are ~25× and FREE ~100×
    /// cheaper per byte, PAGEOUT (which splits them) ~3× cheaper.
    /// The per-call bound is a cost bound: it stays ~1–3 ms whatever the advice and page size.
    func costWeight(_ action: ReleaseAction) -> (num: Int, den: Int) {
        let huge = configuration.hugePages
        switch action {
        case .advise(.free, _): return huge ? (1, 64) : (1, 1)
        case .advise(.pageOut, _): return huge ? (1, 4) : (3, 1)
        case .advise: return huge ? (1, 16) : (1, 1)
        case .unmap: return huge ? (1, 16) : (1, 1)
        case .freeThenPageOut: return huge ? (1, 4) : (4, 1)
        }
    }

    /// Moves (a part of) the free run at `start` through `action`. The part is the run rounded inward to the
    /// release unit (2 MiB in huge-page mode) and, when `limit` is given, cut to at most `limit` bytes.
    /// On failure the run is left exactly as it was and the error is thrown.
    /// - Returns: bytes moved, and the start of the unreleased tail (if any) which keeps its state and stamp.
    mutating func transition(runAt start: UInt, limit: Int?, _ action: ReleaseAction) throws(ArenaError) -> (bytes: Int, tail: UInt?) {
        guard let run = runs[start] else { return (0, nil) }
        let unit = UInt(releaseUnit)
        let end = start + UInt(run.pages * pageSize)
        let a0 = (start + unit - 1) / unit * unit
        var a1 = end / unit * unit
        guard a1 > a0 else { return (0, nil) }  // too small to release whole units: stays as it is
        if let limit {
            let cap = max(UInt(limit) / unit * unit, unit)
            a1 = min(a1, a0 + cap)
        }
        let bytes = Int(a1 - a0)
        removeFree(start: start)
        var failure: VirtualMemoryError? = nil
        var lazyAfterFailure = false
        switch action {
        case .advise(let advice, _):
            do { try sysAdvise(a0, byteCount: bytes, advice) } catch { failure = error }
        case .freeThenPageOut:
            do { try sysAdvise(a0, byteCount: bytes, .free) } catch { failure = error }
            if failure == nil {
                // FREE worked; if PAGEOUT fails the middle is lazy now.
                do { try sysAdvise(a0, byteCount: bytes, .pageOut) } catch { failure = error; lazyAfterFailure = true }
            }
        case .unmap:
            do { try sysUnmap(a0, byteCount: bytes) } catch { failure = error }
        }
        if let failure {
            if lazyAfterFailure {
                putBack(start: start, end: end, run: run, a0: a0, a1: a1, middle: .lazy)
            } else {
                addFree(start: start, pages: run.pages, state: run.state, stamp: run.stamp, enqueue: false)
            }
            throw ArenaError.fromRelease(failure)
        }
        let middle: RunState?
        var pagedOut = false
        switch action {
        case .advise(.pageOut, _), .freeThenPageOut:
            middle = nil  // added by addPagedOut below, checked page by page
            pagedOut = true
        case .advise(_, let to): middle = to
        case .unmap:
            extents.remove(start: a0, byteCount: bytes)
            middle = nil
        }
        let tail = putBack(start: start, end: end, run: run, a0: a0, a1: a1, middle: middle)
        if pagedOut { addPagedOut(a0, a1) }
        return (bytes, tail)
    }

    /// Adds [a0, a1) after MADV_PAGEOUT. PAGEOUT is best effort: pages it cannot isolate stay resident and lazily
    /// freed — measured here: MADV_FREE on one CPU, PAGEOUT on the other left 16 pages of 64 MiB resident (the first
    /// CPU's lazy-free batch). So `mincore` checks the range (a few ns per page, next to ~1 µs of PAGEOUT): chunks that
    /// still hold a resident page stay *lazy* (and are paged out again at their next deadline), the rest becomes
    /// *released*. `heapReleasedDiscarded` thus never counts a resident page (mincore ≤ Sys − discarded).
    private mutating func addPagedOut(_ a0: UInt, _ a1: UInt) {
        let floor = UInt(max(releaseUnit, 16 * pageSize))  // chunk granularity; a multiple of the release unit
        var pieces: [(start: UInt, end: UInt, resident: Bool)] = []
        Self.residentChunks(a0, a1, floor: floor, into: &pieces)
        let stamp = monotonicNanoseconds()
        let ps = UInt(pageSize)
        for p in pieces {
            addFree(start: p.start, pages: Int((p.end - p.start) / ps), state: p.resident ? .lazy : .released, stamp: stamp)
        }
    }

    /// Splits [s, e) into maximal chunks that hold no resident page / some resident page, halving ranges that are
    /// partly resident down to `floor` bytes. A failed `mincore` counts as resident (the conservative side).
    static func residentChunks(_ s: UInt, _ e: UInt, floor: UInt, into out: inout [(start: UInt, end: UInt, resident: Bool)]) {
        func append(_ s: UInt, _ e: UInt, _ resident: Bool) {
            if let last = out.last, last.end == s, last.resident == resident {
                out[out.count - 1].end = e
            } else {
                out.append((s, e, resident))
            }
        }
        let n = Int(e - s)
        let r = (try? VirtualMemory.residentBytes(UnsafeMutableRawPointer(bitPattern: s)!, byteCount: n)) ?? n
        if r == 0 { append(s, e, false); return }
        let mid = s + (e - s) / 2 / floor * floor
        if r == n || mid == s { append(s, e, true); return }
        residentChunks(s, mid, floor: floor, into: &out)
        residentChunks(mid, e, floor: floor, into: &out)
    }

    /// Re-adds the head [start, a0) and tail [a1, end) in the run's old state, and the middle in its new state.
    @discardableResult
    private mutating func putBack(start: UInt, end: UInt, run: FreeRun, a0: UInt, a1: UInt, middle: RunState?) -> UInt? {
        let ps = UInt(pageSize)
        if a0 > start {
            addFree(start: start, pages: Int((a0 - start) / ps), state: run.state, stamp: run.stamp, enqueue: false)
        }
        if let middle {
            addFree(start: a0, pages: Int((a1 - a0) / ps), state: middle, stamp: monotonicNanoseconds())
        }
        if end > a1 {
            addFree(start: a1, pages: Int((end - a1) / ps), state: run.state, stamp: run.stamp, enqueue: false)
            return a1
        }
        return nil
    }

    /// Applies `action` to every free run in `state` now.
    mutating func transitionAll(_ state: RunState, _ action: ReleaseAction) throws(ArenaError) -> Int {
        var total = 0
        if index[state.rawValue].count == 0 { return 0 }
        for start in index[state.rawValue].allStarts {
            guard let run = runs[start], run.state == state else { continue }
            total += try transition(runAt: start, limit: nil, action).bytes
        }
        return total
    }

    /// Releases every idle page now with `strategy` (the `release()` entry point).
    mutating func releaseAll(_ strategy: ReleaseStrategy) throws(ArenaError) -> Int {
        dropSpares()
        var total = 0
        switch strategy {
        case .retain: break
        case .lazyFree:
            total += try transitionAll(.dirty, .advise(.free, to: .lazy))
        case .dontNeed, .decay:
            total += try transitionAll(.lazy, .advise(.dontNeed, to: .released))
            total += try transitionAll(.dirty, .advise(.dontNeed, to: .released))
        case .freeThenPageOut:
            total += try transitionAll(.lazy, .advise(.pageOut, to: .released))
            total += try transitionAll(.dirty, .freeThenPageOut)
        case .unmap:
            for state in [RunState.released, .lazy, .dirty] { total += try transitionAll(state, .unmap) }
        }
        autoSuspended = false
        return total
    }

    /// The deferred work that is due now, at most `budget` bytes (nil: all that is due). Called after every
    /// allocate/deallocate with the configured per-call bound, so a huge free never stalls its caller.
    mutating func pump(budget: Int?) throws(ArenaError) -> Int {
        if autoSuspended { return 0 }
        var remaining = budget ?? Int.max
        var done = 0
        switch strategy {
        case .retain: return 0
        case .lazyFree: done += try drain(.dirty, delay: 0, .advise(.free, to: .lazy), &remaining)
        case .dontNeed: done += try drain(.dirty, delay: 0, .advise(.dontNeed, to: .released), &remaining)
        case .unmap: done += try drain(.dirty, delay: 0, .unmap, &remaining)
        case .decay(let d):
            done += try drain(.dirty, delay: d.nanosecondsClamped, .advise(.dontNeed, to: .released), &remaining)
        case .freeThenPageOut(let d):
            done += try drain(.dirty, delay: 0, .advise(.free, to: .lazy), &remaining)
            done += try drain(.lazy, delay: d.nanosecondsClamped, .advise(.pageOut, to: .released), &remaining)
        }
        return done
    }

    /// The deadline queue of `state` (dirty or lazy), modified in place.
    private mutating func withQueue<R>(_ state: RunState, _ body: (inout PendingQueue) -> R) -> R {
        state == .dirty ? body(&dirtyQueue) : body(&lazyQueue)
    }

    private mutating func drain(
        _ state: RunState, delay: Int, _ action: ReleaseAction, _ remaining: inout Int
    ) throws(ArenaError) -> Int {
        var done = 0
        var now: Int? = nil
        while remaining > 0, let e = withQueue(state, { $0.front }) {
            if delay == 0 && state == .dirty && dirtyWithinReserve { break }  // DirtyReserve.swift
            guard let run = runs[e.start], run.state == state, run.stamp == e.stamp else {
                withQueue(state) { $0.popFront() }  // stale: reused, merged or split since
                continue
            }
            if delay > 0 {
                if now == nil { now = monotonicNanoseconds() }
                if now! - e.stamp < delay { break }
            }
            let w = costWeight(action)
            let limitBytes = remaining > Int.max / w.den ? Int.max : remaining * w.den / w.num
            let (bytes, tail) = try transition(runAt: e.start, limit: limitBytes, action)
            done += bytes
            remaining -= max(bytes * w.num / w.den, pageSize)
            if let tail, bytes > 0, runs[tail]?.state == state {
                let entry = PendingEntry(start: tail, stamp: runs[existing: tail].stamp)
                withQueue(state) { $0.replaceFront(entry) }
            } else {
                withQueue(state) { $0.popFront() }
            }
        }
        compactIfStale(state)
        return done
    }

    /// Stale entries pile up when runs are reused before their deadline; rebuild when they dominate.
    private mutating func compactIfStale(_ state: RunState) {
        let liveCount = index[state.rawValue].count
        let queued = withQueue(state) { $0.count }
        guard queued > 4096 && queued > 4 * liveCount else { return }
        rebuildQueue(state)
    }

    mutating func rebuildQueue(_ state: RunState) {
        guard queues(state) else { withQueue(state) { $0.removeAll() }; return }
        let entries = index[state.rawValue].allStarts.map { PendingEntry(start: $0, stamp: runs[$0]!.stamp) }
        let sorted = entries.sorted { $0.stamp < $1.stamp }
        withQueue(state) { $0.reset(sorted) }
    }

    /// Switches strategy: deadlines are rebuilt for the runs the new strategy acts on.
    mutating func setStrategy(_ s: ReleaseStrategy) {
        strategy = s
        autoSuspended = false
        // Idle runs start their new deadlines now (retain does not stamp freed runs).
        let now = monotonicNanoseconds()
        for start in runs.allKeys where runs[existing: start].state != .released { runs[existing: start].stamp = now }
        rebuildQueue(.dirty)
        rebuildQueue(.lazy)
    }

    /// Runs the bounded deferred work after an allocate/deallocate, swallowing errors (the caller cannot act on
    /// them): the runs stay dirty, automatic release pauses until `release()` or `setStrategy` succeeds.
    mutating func pumpAfterCall() {
        if autoSuspended || (dirtyQueue.isEmpty && lazyQueue.isEmpty) { return }
        do {
            _ = try pump(budget: configuration.maxReleaseBytesPerCall)
        } catch {
            lastDeferredError = error
            autoSuspended = true
        }
    }
}
