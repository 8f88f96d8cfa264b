import MemProbeSystem

/// The arena API a background governor uses: the registry of live arenas, when deferred work is next due, and a
/// bounded release of idle pages for good (the soft memory limit). None of it runs on the allocation path.
extension PageArena {
    /// Every live arena of the process, in creation order.
    public static var liveArenas: [RegisteredArena] { ArenaRegistry.live() }

    /// A short name for this arena in metrics and published figures (`arena` label); default `arena-<id>`.
    /// Keep it low-cardinality: one per arena role, not per request.
    public var label: String {
        get { ArenaRegistry.entry(for: self)?.label ?? "arena" }
        set { ArenaRegistry.setLabel(newValue, for: self) }
    }

    /// The monotonic time (``monotonicNanoseconds()``) at which deferred release work is next due — a `decay` or
    /// `freeThenPageOut` deadline, or now for leftovers of a large free — or `nil` when nothing is pending
    /// (or automatic release is paused after an error). May be early (a run reused since): calling
    /// ``performDeferredWork(budgetBytes:)`` then does nothing and the next call reports the real deadline.
    public var nextDeadlineNanoseconds: Int? {
        core.withLock { $0.nextDeadline }
    }

    /// Bytes of idle pages that still occupy memory: dirty (`heapIdle − heapReleased`) plus lazily freed ones.
    /// This is what ``releaseIdle(maxBytes:)`` can give back.
    public var releasableBytes: Int {
        let s = stats
        return s.heapIdle - s.heapReleasedDiscarded
    }

    /// Releases idle pages for good — MADV_DONTNEED (dirty pages first, then lazily freed ones), whatever the
    /// arena's everyday strategy (`unmap` arenas unmap) — at most `maxBytes` (rounded to the release unit) in this
    /// call, so a caller can cap its release rate. Live allocations are never touched.
    /// - Returns: what was released; `releasedBytes` 0 when nothing was idle.
    /// - Throws: ``ArenaError/unsupportedAdvice(_:)`` if the kernel refuses; the runs stay as they were.
    @discardableResult
    public func releaseIdle(maxBytes: Int) throws(ArenaError) -> ReleaseReport {
        let t0 = monotonicNanoseconds()
        return try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> ReleaseReport in
            let calls0 = c.stats.madviseCalls + c.stats.munmapCalls
            defer { publish(c) }
            let bytes = try c.releaseIdle(maxBytes: max(0, maxBytes))
            return ReleaseReport(
                releasedBytes: bytes, strategy: c.strategy == .unmap ? "unmap" : "dontNeed",
                nanoseconds: monotonicNanoseconds() - t0,
                madviseCalls: c.stats.madviseCalls + c.stats.munmapCalls - calls0)
        }
    }
}

extension ArenaCore {
    /// See ``PageArena/nextDeadlineNanoseconds``.
    var nextDeadline: Int? {
        if autoSuspended { return nil }
        func due(_ q: PendingQueue, _ delay: Int) -> Int? { q.front.map { $0.stamp &+ delay } }
        let dirty: Int?, lazy: Int?
        switch strategy {
        case .retain: return nil
        case .lazyFree, .dontNeed, .unmap: dirty = due(dirtyQueue, 0); lazy = nil
        case .decay(let d): dirty = due(dirtyQueue, d.nanosecondsClamped); lazy = nil
        case .freeThenPageOut(let d): dirty = due(dirtyQueue, 0); lazy = due(lazyQueue, d.nanosecondsClamped)
        }
        switch (dirty, lazy) {
        case let (a?, b?): return min(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        default: return nil
        }
    }

    /// Releases dirty, then lazy idle runs for good, at most `maxBytes`; spare slab pages go back first.
    mutating func releaseIdle(maxBytes: Int) throws(ArenaError) -> Int {
        guard maxBytes > 0 else { return 0 }
        dropSpares()
        var remaining = maxBytes
        var total = 0
        let unmap = strategy == .unmap
        for state in [RunState.dirty, .lazy] where remaining > 0 && index[state.rawValue].count > 0 {
            for start in index[state.rawValue].allStarts where remaining > 0 {
                guard let run = runs[start], run.state == state else { continue }
                let action: ReleaseAction = unmap ? .unmap : .advise(.dontNeed, to: .released)
                let bytes = try transition(runAt: start, limit: remaining, action).bytes
                total += bytes
                remaining -= bytes
            }
        }
        return total
    }
}
