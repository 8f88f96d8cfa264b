#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem

/// Checks `condition` every `interval` until it holds or `timeout` has passed (then once more); returns whether it
/// held. For what another thread or process does: a liveness bound, not a timing assertion.
public func eventually(
    within timeout: Duration, every interval: Duration = .milliseconds(10), _ condition: () throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try condition()
}

/// ``eventually(within:every:_:)`` for synchronous tests: the calling thread sleeps between the checks.
public func eventually(
    within timeout: Duration, every interval: Duration = .milliseconds(10), _ condition: () throws -> Bool
) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        let (seconds, attoseconds) = interval.components
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        nanosleep(&ts, nil)
    }
    return try condition()
}

/// Waits until every idle page of `arena` is released (`heapIdle == heapReleased`) or `timeoutSeconds` pass, and
/// returns the seconds waited. It makes no call that does release work: `stats` is a lock-free copy the arena
/// publishes, so whatever is released meanwhile is the background drainer's doing (issue 13 §2: no further call by
/// the application). The timeout is a liveness bound, not a timing assertion.
public func waitForIdleRelease(_ arena: PageArena, timeoutSeconds: Double = 10) -> Double {
    let t0 = monotonicNanoseconds()
    while true {
        let s = arena.stats
        let waited = Double(monotonicNanoseconds() - t0) / 1e9
        if s.heapIdle == s.heapReleased || waited >= timeoutSeconds { return waited }
        var ts = timespec(tv_sec: 0, tv_nsec: 2_000_000)
        nanosleep(&ts, nil)
    }
}
