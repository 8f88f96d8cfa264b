import MemProbeSystem

/// An opt-in bound on how many freed-but-dirty bytes an arena keeps instead of releasing them at once
/// (issue 13 §3: a service in steady churn frees and re-allocates the same amount every round; releasing and
/// re-faulting it each time cost 1.55× Dictionary's time).
///
/// The reserve is the gap between the arena's recent peak of HeapInuse and its HeapInuse now: the arena never holds
/// more resident pages than it recently *used*, so RSS stays ≤ the recent peak of live pages. "Recent" is two
/// windows: the peak of the window in progress and of the one before. A background drainer
/// (`DeferredReleaseDrainer`) closes a window every `window` while a reserve is held, so once use falls (a map
/// emptied or dropped) the reserve falls to zero within two windows and the pages are released with no call by the
/// application. Go keeps heap goal + 10 % for the same reason; jemalloc decays dirty pages over time.
struct DirtyReserve {
    /// nil: no reserve (the strategy releases freed pages at once, as documented for each strategy).
    var window: Int?
    /// Peak HeapInuse in the window in progress, and in the previous one.
    var currentPeak = 0
    var previousPeak = 0
    /// When the window in progress started (monotonic ns).
    var windowStart = 0

    init(window: Duration?) {
        self.window = window.map { max(Int($0.nanosecondsClamped), 1_000_000) }
        self.windowStart = monotonicNanoseconds()
    }

    var isEnabled: Bool { window != nil }

    @inline(__always)
    mutating func noteInuse(_ heapInuse: Int) {
        if heapInuse > currentPeak { currentPeak = heapInuse }
    }

    /// Dirty idle bytes that may stay resident: recent peak − in use now.
    func limit(heapInuse: Int) -> Int {
        guard window != nil else { return 0 }
        return max(0, max(currentPeak, previousPeak) - heapInuse)
    }

    /// Closes the window if it is over; returns whether it did.
    mutating func rotateIfDue(now: Int, heapInuse: Int) -> Bool {
        guard let w = window, now - windowStart >= w else { return false }
        previousPeak = currentPeak
        currentPeak = heapInuse
        windowStart = now
        return true
    }
}

extension ArenaCore {
    /// Dirty idle bytes: free pages still resident with their old contents.
    var dirtyIdleBytes: Int { stats.heapIdle - stats.heapReleasedLazy - stats.heapReleasedDiscarded }

    /// Whether the strategy releases dirty runs with no delay (its deferred dirty backlog is due now).
    var releasesDirtyAtOnce: Bool {
        switch strategy {
        case .lazyFree, .dontNeed, .unmap, .freeThenPageOut: true
        case .retain, .decay: false
        }
    }

    /// Whether the dirty runs may stop being released here because the reserve covers them.
    var dirtyWithinReserve: Bool {
        reserve.isEnabled && dirtyIdleBytes <= reserve.limit(heapInuse: stats.heapInuse)
    }

    /// Work the background drainer should do for this arena: backlog due now beyond the reserve, or a reserve held
    /// (whose windows it must close so the reserve decays).
    var wantsBackgroundDrain: Bool {
        guard configuration.backgroundRelease, !autoSuspended, releasesDirtyAtOnce else { return false }
        if dirtyQueue.isEmpty { return false }
        return reserve.isEnabled || !dirtyWithinReserve
    }

    /// One bounded slice of background work (at most the per-call bound): closes a reserve window if due, then
    /// releases due backlog. Errors suspend automatic release as for a foreground call.
    mutating func backgroundSlice(now: Int) -> Int {
        _ = reserve.rotateIfDue(now: now, heapInuse: stats.heapInuse)
        if autoSuspended || dirtyQueue.isEmpty && lazyQueue.isEmpty { return 0 }
        do {
            return try pump(budget: configuration.maxReleaseBytesPerCall)
        } catch {
            lastDeferredError = error
            autoSuspended = true
            return 0
        }
    }
}

/// What the background drainer should do next for one arena.
enum BackgroundWork: Equatable {
    /// Nothing left: take the arena off the list.
    case none
    /// Backlog due now: another slice soon.
    case due
    /// Only a reserve is held: come back when its window closes (monotonic ns).
    case reserveUntil(Int)
}

extension ArenaCore {
    func backgroundWork(released: Int) -> BackgroundWork {
        guard wantsBackgroundDrain else { return .none }
        if !dirtyQueue.isEmpty && !dirtyWithinReserve { return .due }
        if released > 0 && !dirtyQueue.isEmpty { return .due }  // a stale-entry pass may have more behind it
        guard let w = reserve.window else { return .none }
        return .reserveUntil(reserve.windowStart + w)
    }
}
