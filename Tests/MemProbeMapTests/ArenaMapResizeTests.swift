import MemProbeArena
@testable import MemProbeMap
import MemProbeTestSupport
import Testing

/// Growth and shrink are spread over operations, and the map's own memory figures agree with the arena's books.
@Suite("ArenaMap incremental resize and memory figures")
struct ArenaMapResizeTests {
    /// Index slots of the table being resized into, and the slots still to migrate, are both visible through
    /// `memoryStats`: a large resize must stay in progress over many operations (bounded work per op), never
    /// finish inside the operation that started it, and must finish before the next one is due.
    @Test func largeIndexResizeSpansManyOperations() {
        var m = ArenaMap<Int, Int>(arena: PageArena(strategy: .dontNeed))
        var longestRun = 0
        var run = 0
        var resizes = 0
        for i in 0..<300_000 {
            m[i] = i
            if m.memoryStats.isResizing {
                if run == 0 { resizes += 1 }
                run += 1
            } else {
                longestRun = max(longestRun, run)
                run = 0
            }
        }
        longestRun = max(longestRun, run)
        #expect(resizes >= 3, "the index should have grown incrementally several times")
        // The last resize before 300,000 moved a table of ≥ 256 Ki slots: at a bounded step per op it takes
        // hundreds of operations, not one.
        #expect(longestRun >= 256, "longest resize lasted only \(longestRun) operations")
        m._checkInvariants()
        // Draining shrinks incrementally too, and every lookup stays right meanwhile.
        var shrinking = 0
        for i in 0..<299_000 {
            m[i] = nil
            if m.memoryStats.isResizing { shrinking += 1 }
            if i % 10_007 == 0 {
                #expect(m[i + 1] == i + 1)
                #expect(m[i] == nil)
            }
        }
        #expect(shrinking > 0, "the index never shrank while draining 299,000 of 300,000 entries")
        #expect(m.count == 1000)
        m._checkInvariants()
    }

    /// With one map alone on an arena: what the arena handed out (Alloc, as requested) ≤ what the map says it holds
    /// (reserved sizes) ≤ the arena's HeapInuse (whole pages) — at every size, growing and shrinking.
    @Test func heldBytesAgreeWithTheArenasBooks() {
        let arena = PageArena(strategy: .dontNeed)
        var m = ArenaMap<Int, String>(arena: arena)
        func check(_ label: String) {
            let s = arena.stats
            let held = m.memoryStats.heldBytes
            #expect(s.alloc <= held, "\(label): arena Alloc \(s.alloc) > map heldBytes \(held)")
            #expect(held <= s.heapInuse, "\(label): map heldBytes \(held) > arena HeapInuse \(s.heapInuse)")
            #expect(m.memoryStats.liveBytes == m.count * MemoryLayout<(key: Int, value: String)>.stride)
            #expect(m.memoryStats.capacity >= m.count)
        }
        check("empty")
        for i in 0..<50_000 {
            m[i] = "v\(i)"
            if i % 4999 == 0 { check("growing \(i)") }
        }
        for i in 0..<49_990 {
            m[i] = nil
            if i % 4999 == 0 { check("shrinking \(i)") }
        }
        m.shrinkToFit()
        check("after shrinkToFit")
        #expect(m.memoryStats.heldBytes < 16 << 10, "10 entries after shrinkToFit hold \(m.memoryStats.heldBytes) B")
        m.removeAll()
        #expect(m.memoryStats.heldBytes == 0 && arena.stats.alloc == 0)
    }
}
