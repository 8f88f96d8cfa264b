import MemProbeArena
@testable import MemProbeMap
import MemProbeSystem
import Testing
import MemProbeTestSupport

/// Issue 13 §2: emptying or dropping a large map gives its memory back to the kernel within a short bounded time
/// with NO further call by the application (no `performDeferredWork()`, no governor): the arena's background
/// drainer finishes the release backlog the caller's bounded per-call release left. Checked against the kernel:
/// `mincore` over the arena's regions (≤ 2 MiB: exact for the map's pages), and the process's `Rss` in smaps_rollup
/// (≤ start + 8 MiB, the slack ArenaMapMemoryTests uses: other suites of this process allocate in parallel; the
/// process-alone figure, ≤ start + 2 MiB, is `memprobe-bench map`'s idle-release table).
@Suite("ArenaMap idle release", .serialized)
struct IdleReleaseTests {
    let processSlack = 8 * MiB

    /// Fills a map with `fill`, empties it with `empty`, and checks that the pages leave with no further call.
    func check(_ name: String, fill: (inout ArenaMap<Int, Int>) -> Void, empty: (inout ArenaMap<Int, Int>?) -> Void) throws {
        try processMemoryLock.withLock { _ in
            let arena = PageArena(strategy: .dontNeed)
            let start = try processRssAndLazyFree().rss
            var m: ArenaMap<Int, Int>? = ArenaMap<Int, Int>(arena: arena)
            fill(&m!)
            let full = try arena.residentBytes()
            let bound = arena.configuration.maxReleaseBytesPerCall
            let calls0 = arena.stats.madviseCalls
            let released0 = arena.stats.madviseBytes
            let t0 = monotonicNanoseconds()
            empty(&m)
            let pause = Double(monotonicNanoseconds() - t0) / 1e6
            let afterCall = arena.stats
            // The caller's own release work stayed within the per-call bound for each arena call it made.
            #expect(afterCall.madviseBytes - released0 <= bound * max(1, afterCall.madviseCalls - calls0))
            let waited = waitForIdleRelease(arena)
            let s = arena.stats
            let resident = try arena.residentBytes()
            let rss = try processRssAndLazyFree().rss
            print("\(name): arena resident \(full / MiB) MiB full; emptying took \(pause) ms and left \((afterCall.heapIdle - afterCall.heapReleased) / MiB) MiB of backlog; drained by the background thread in \(waited) s; resident then \(resident >> 10) KiB, process Rss start+\((rss - start) >> 10) KiB")
            #expect(s.heapIdle == s.heapReleased, "idle pages still not released after \(waited) s: \(s)")
            #expect(s.alloc == 0)
            #expect(resident <= 2 * MiB, "\(resident) bytes of the arena still resident")
            if !TestEnvironment.isSanitized {
                #expect(rss <= start + processSlack, "Rss start + \((rss - start) >> 10) KiB")
            }
            expectArenaInvariants(arena)
        }
    }

    @Test func removeAllOfAMillionIntEntries() throws {
        try check("removeAll() of 1M Int→Int", fill: { m in for i in 0..<1_000_000 { m[i] = i } }, empty: { $0!.removeAll() })
    }

    @Test func dropOfAMillionIntEntries() throws {
        try check("drop of 1M Int→Int", fill: { m in for i in 0..<1_000_000 { m[i] = i } }, empty: { $0 = nil })
    }

    @Test func removeAllOfKiBValues() throws {
        try processMemoryLock.withLock { _ in
            let arena = PageArena(strategy: .dontNeed)
            let start = try processRssAndLazyFree().rss
            var m = ArenaMap<Int, KiB>(arena: arena)
            for i in 0..<65_536 { m[i] = KiB(i) }
            m.removeAll()
            let waited = waitForIdleRelease(arena)
            let resident = try arena.residentBytes()
            let rss = try processRssAndLazyFree().rss
            print("removeAll() of 64 Ki × 1 KiB: drained in \(waited) s; arena resident \(resident >> 10) KiB; Rss start+\((rss - start) >> 10) KiB")
            #expect(arena.stats.heapIdle == arena.stats.heapReleased)
            #expect(resident <= 2 * MiB)
            if !TestEnvironment.isSanitized { #expect(rss <= start + processSlack) }
        }
    }
}
