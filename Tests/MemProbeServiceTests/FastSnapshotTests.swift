import MemProbe
import Testing
import MemProbeTestSupport

/// `MemStats.capture(mode: .fast)` for a service: arena figures from the lock-free copy, no mincore, no mallinfo2.
@Suite struct FastSnapshotTests {
    @Test func fastModeSkipsMincoreAndMallinfo() throws {
        let arena = PageArena(strategy: .retain)
        let p = try arena.allocate(byteCount: 1 << 20)
        defer { arena.deallocate(p, byteCount: 1 << 20) }
        let fast = try MemStats.capture(mode: .fast, arenas: [("a", arena)])
        #expect(fast.mallocHeap == nil)
        #expect(fast.missing.contains { $0.figure == "mallocHeap" })
        #expect(fast.arenas.first?.resident == nil)
        #expect(fast.arenas.first?.stats == arena.stats)
        let full = try MemStats.capture(mode: .full, arenas: [("a", arena)])
        #expect(full.mallocHeap != nil)
        #expect(full.arenas.first?.resident != nil)
    }
}
