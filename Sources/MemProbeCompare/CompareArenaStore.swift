#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import MemProbeMap

/// `ArenaMap<Int, P>` on a private `PageArena` with the contender's release strategy.
///
/// The arena bounds the release work one `deallocate` does and defers the rest; a service would run a
/// scavenger for it. So each phase ends with one `performDeferredWork()` tick (timed as the phase's release
/// time), and the force-release step is `release()` — after waiting out the delay of `decay`/`freeThenPageOut`
/// with a tick, so their own timed release shows before the forced one.
struct ArenaStore<P: ComparePayload>: CompareStore {
    let arena: PageArena
    var map: ArenaMap<Int, P>

    init(strategy: ReleaseStrategy) {
        arena = PageArena(strategy: strategy)
        map = ArenaMap(arena: arena)
    }

    var delay: Duration? {
        switch arena.strategy {
        case .decay(let d), .freeThenPageOut(let d): d
        default: nil
        }
    }

    mutating func insert(key: Int, fill: UInt8) { map[key] = P(fill: fill) }
    mutating func remove(key: Int) -> UInt8 { map.removeValue(forKey: key)?.firstByte ?? 0 }
    var count: Int { map.count }
    mutating func drop() { map = ArenaMap(arena: arena) }
    mutating func copySurvivors() {
        var fresh = ArenaMap<Int, P>(arena: arena)
        for (k, v) in map { fresh[k] = v }
        map = fresh
    }

    /// The scavenger tick at the end of a phase.
    mutating func tick() -> Int? {
        let start = monotonicNanoseconds()
        _ = try? arena.performDeferredWork()
        return monotonicNanoseconds() - start
    }

    mutating func forceRelease() -> Int? {
        var total = 0
        if let delay {
            // Let the delay pass (plus a margin) so the strategy's own timed release runs first.
            let (s, atto) = (delay + .milliseconds(50)).components
            var ts = timespec(tv_sec: Int(s), tv_nsec: Int(atto / 1_000_000_000))
            _ = nanosleep(&ts, nil)
            total += tick() ?? 0
        }
        let start = monotonicNanoseconds()
        _ = try? arena.release()
        return total + monotonicNanoseconds() - start
    }

    func allocatorFigures(into r: inout CompareRecord) {
        let s = arena.stats
        r.alloc = s.alloc
        r.heapInuse = s.heapInuse
        r.heapIdle = s.heapIdle
        r.sys = s.sys
        r.heapReleased = s.heapReleased
        r.heapReleasedLazy = s.heapReleasedLazy
        r.heapReleasedDiscarded = s.heapReleasedDiscarded
        r.arenaResident = try? arena.residentBytes()
    }
}

func makeArenaStore<P: ComparePayload>(_ type: P.Type, strategy: ReleaseStrategy) throws -> ArenaStore<P> {
    ArenaStore<P>(strategy: strategy)
}
