import MemProbeArena
import MemProbeMap
import MemProbeSystem
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A key whose hash value the test controls: many distinct keys can share one hash (swift-collections' `Collider`).
struct Collider: Hashable, CustomStringConvertible, Sendable {
    var identity: Int
    var hash: Int

    init(_ identity: Int, hash: Int) {
        self.identity = identity
        self.hash = hash
    }

    /// `identity` collides with every other identity in the same residue class modulo `buckets`.
    init(_ identity: Int, buckets: Int) {
        self.init(identity, hash: identity % buckets)
    }

    static func == (a: Collider, b: Collider) -> Bool { a.identity == b.identity }
    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    var description: String { "C(\(identity)#\(hash))" }
}

/// Counts instances of ``Tracked`` created and destroyed: a leak or a double destroy shows as a mismatch
/// (a double destroy of a class instance also crashes the runtime, or ASan, before that).
final class LifetimeTracker: Sendable {
    private let counts = Mutex((created: 0, destroyed: 0))

    var created: Int { counts.withLock { $0.created } }
    var destroyed: Int { counts.withLock { $0.destroyed } }
    var live: Int { counts.withLock { $0.created - $0.destroyed } }

    func instance(_ payload: Int) -> Tracked { Tracked(payload, tracker: self) }

    fileprivate func didCreate() { counts.withLock { $0.created += 1 } }
    fileprivate func didDestroy() { counts.withLock { $0.destroyed += 1 } }
}

/// A value whose every instance is counted by its ``LifetimeTracker``.
final class Tracked: Hashable, CustomStringConvertible, Sendable {
    let payload: Int
    let tracker: LifetimeTracker

    init(_ payload: Int, tracker: LifetimeTracker) {
        self.payload = payload
        self.tracker = tracker
        tracker.didCreate()
    }

    deinit { tracker.didDestroy() }

    static func == (a: Tracked, b: Tracked) -> Bool { a.payload == b.payload }
    func hash(into hasher: inout Hasher) { hasher.combine(payload) }
    var description: String { "T\(payload)" }
}

/// A non-trivial struct value: a class reference, a String and padding, so a missed or doubled
/// deinitialization shows up in the tracker, ASan or the runtime.
struct Payload: Equatable, Sendable {
    var tracked: Tracked
    var name: String
    var number: Int

    static func == (a: Payload, b: Payload) -> Bool {
        a.tracked == b.tracked && a.name == b.name && a.number == b.number
    }
}

/// The arena's own invariants (design §2): `Alloc ≤ HeapInuse`, `HeapInuse + HeapIdle = Sys`, `HeapReleased ≤ HeapIdle`.
func expectArenaInvariants(_ arena: PageArena, sourceLocation: SourceLocation = #_sourceLocation) {
    let s = arena.stats
    #expect(s.alloc <= s.heapInuse, "Alloc \(s.alloc) > HeapInuse \(s.heapInuse)", sourceLocation: sourceLocation)
    #expect(s.heapInuse + s.heapIdle == s.sys, "HeapInuse + HeapIdle != Sys: \(s)", sourceLocation: sourceLocation)
    #expect(s.heapReleased <= s.heapIdle, "HeapReleased > HeapIdle: \(s)", sourceLocation: sourceLocation)
    #expect(s.alloc >= 0 && s.heapIdle >= 0, "negative figure: \(s)", sourceLocation: sourceLocation)
}

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

let MiB = 1 << 20

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
