#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import Testing
import MemProbeTestSupport

/// The background drainer (issue 13 §2) and the opt-in dirty-page reserve (issue 13 §3), checked through the
/// published stats (lock-free reads that do no release work) and `mincore`; no `performDeferredWork()` anywhere.
@Suite("PageArena background drain")
struct BackgroundDrainTests {
    @Test func backlogOfALargeFreeLeavesWithNoFurtherCall() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 32 * MiB, maxReleaseBytesPerCall: 4 * MiB))
        let p = try arena.allocate(byteCount: 24 * MiB)
        touch(p, 24 * MiB)
        let madvise0 = arena.stats.madviseBytes
        arena.deallocate(p, byteCount: 24 * MiB)
        let waited = waitForIdleRelease(arena)
        let s = arena.stats
        print("24 MiB free, 4 MiB per call: the rest released in the background in \(waited) s (\(s.madviseCalls) madvise calls)")
        #expect(s.heapIdle == s.heapReleased, "backlog left: \(s)")
        #expect(s.madviseBytes - madvise0 >= 24 * MiB - pageSize)
        #expect(try arena.residentBytes() <= 2 * pageSize)
        expectInvariants(s)
    }

    /// Shared state under TSan: 4 tasks free large runs on their own arenas and on one shared arena while the
    /// drainer works on them; half of the private arenas are dropped while still on the drainer's list.
    @Test func concurrentFreesAndDroppedArenas() async throws {
        let shared = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 32 * MiB, maxReleaseBytesPerCall: MiB))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<4 {
                group.addTask {
                    for round in 0..<6 {
                        let own = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 16 * MiB, maxReleaseBytesPerCall: MiB))
                        let p = try own.allocate(byteCount: 8 * MiB)
                        touch(p, 8 * MiB)
                        own.deallocate(p, byteCount: 8 * MiB)  // 1 MiB now, the rest to the drainer
                        let q = try shared.allocate(byteCount: 4 * MiB)
                        touch(q, 4 * MiB)
                        shared.deallocate(q, byteCount: 4 * MiB)
                        if (w + round) % 2 == 0 { continue }  // dropped while (probably) on the list
                        _ = waitForIdleRelease(own)
                        #expect(own.stats.heapIdle == own.stats.heapReleased)
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = waitForIdleRelease(shared)
        let s = shared.stats
        #expect(s.alloc == 0 && s.heapIdle == s.heapReleased, "\(s)")
        expectInvariants(s)
    }

    @Test func decayIsLeftToItsDeadlines() throws {
        // The drainer does due backlog only; decay's timers are the governor's (or later calls') business.
        let arena = PageArena(strategy: .decay(delay: .seconds(60)))
        let p = try arena.allocate(byteCount: 8 * MiB)
        touch(p, 8 * MiB)
        arena.deallocate(p, byteCount: 8 * MiB)
        var ts = timespec(tv_sec: 0, tv_nsec: 100_000_000)
        nanosleep(&ts, nil)
        let s = arena.stats
        #expect(s.heapIdle - s.heapReleased == 8 * MiB, "decay released before its deadline: \(s)")
    }

    @Test func reserveKeepsChurnedPagesDirtyAndDecaysWhenUseFalls() throws {
        var configuration = PageArena.Configuration(regionSize: 64 * MiB)
        configuration.dirtyReserveWindow = .milliseconds(100)
        let arena = PageArena(strategy: .dontNeed, configuration: configuration)
        // Churn: 16 MiB live, 16 MiB freed and re-allocated each round: after the first round nothing is released
        // and nothing is faulted in again (the reserve is the gap to the recent peak of HeapInuse).
        let base = try arena.allocate(byteCount: 16 * MiB)
        touch(base, 16 * MiB)
        var calls0 = 0
        for round in 0..<20 {
            let q = try arena.allocate(byteCount: 16 * MiB)
            touch(q, 16 * MiB)
            arena.deallocate(q, byteCount: 16 * MiB)
            if round == 0 { calls0 = arena.stats.madviseCalls }
            let s = arena.stats
            #expect(s.heapInuse + (s.heapIdle - s.heapReleased) <= 32 * MiB, "dirty + in use above the peak: \(s)")
        }
        #expect(arena.stats.madviseCalls == calls0, "churn within the reserve released pages")
        #expect(try arena.residentBytes() >= 32 * MiB - MiB)
        // Use falls to zero: the reserve decays within two windows and the drainer releases it, with no call.
        arena.deallocate(base, byteCount: 16 * MiB)
        let waited = waitForIdleRelease(arena)
        print("reserve of \(32) MiB released \(waited) s after use fell (window 100 ms)")
        let s = arena.stats
        #expect(s.heapIdle == s.heapReleased, "reserve not released: \(s)")
        #expect(try arena.residentBytes() <= 2 * pageSize)
        expectInvariants(s)
    }
}
