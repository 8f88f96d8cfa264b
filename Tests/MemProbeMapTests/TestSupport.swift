import MemProbeArena
import MemProbeMap
import MemProbeSystem
import Synchronization
import MemProbeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Contents of a map as a Dictionary (checks on the way that no key appears twice).
func contents<K: Hashable, V>(of map: ArenaMap<K, V>, sourceLocation: SourceLocation = #_sourceLocation) -> [K: V] {
    var d: [K: V] = [:]
    var n = 0
    for (k, v) in map {
        #expect(d.updateValue(v, forKey: k) == nil, "key \(k) iterated twice", sourceLocation: sourceLocation)
        n += 1
    }
    #expect(n == map.count, "iterated \(n) entries, count says \(map.count)", sourceLocation: sourceLocation)
    return d
}

/// Serializes the tests that read the process's RSS/LazyFree, so they do not see each other's megabytes.
let processMemoryLock = Mutex(())

/// `Rss` and `LazyFree` of this process, from smaps_rollup (kernel's own accounting, independent of the arena).
func processRssAndLazyFree() throws -> (rss: Int, lazyFree: Int) {
    let s = try SmapsRollup.read(pid: nil)
    return (s.rss ?? 0, s.lazyFree ?? 0)
}

/// Waits until every idle page of `arena` is released (`heapIdle == heapReleased` in the published stats) or
/// `timeoutSeconds` pass, and returns the seconds waited. It makes no call that does release work: `stats` is a
/// lock-free copy the arena publishes, so whatever is released meanwhile is the background drainer's doing (issue
/// 13 §2: no further call by the application). The timeout is a liveness bound, not a timing assertion.
func waitForIdleRelease(_ arena: PageArena, timeoutSeconds: Double = 10) -> Double {
    let t0 = monotonicNanoseconds()
    while true {
        let s = arena.stats
        let waited = Double(monotonicNanoseconds() - t0) / 1e9
        if s.heapIdle == s.heapReleased || waited >= timeoutSeconds { return waited }
        var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)
        nanosleep(&ts, nil)
    }
}
