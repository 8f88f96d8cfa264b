import MemProbeArena
import MemProbeMap
import Testing
import MemProbeTestSupport

/// Issue 13 §4: once a shrunken map is stable its index is ≤ 2× the index of a fresh map with the same count,
/// reached incrementally, and a map that hovers at a shrink boundary does not resize back and forth.
@Suite("ArenaMap index shrink")
struct IndexShrinkTests {
    func freshTableCapacity(_ n: Int, arena: PageArena) -> Int {
        var f = ArenaMap<Int, Int>(arena: arena)
        for i in 0..<n { f[i] = i }
        return f.memoryStats.tableCapacity
    }

    @Test(arguments: [(200_000, 66_700), (200_000, 20_000), (50_000, 40_000), (100_000, 1_000)])
    func shrunkenIndexIsAtMostTwiceAFreshOne(grown: Int, kept: Int) {
        let arena = PageArena(strategy: .dontNeed)
        var m = ArenaMap<Int, Int>(arena: arena)
        for i in 0..<grown { m[i] = i }
        let grownSlots = m.memoryStats.tableCapacity
        for i in kept..<grown { m[i] = nil }
        // "Stable for a while": ordinary mutations (overwrites) let a migration in progress finish.
        var i = 0
        while m.memoryStats.isResizing && i < 1_000_000 { m[i % kept] = i; i += 1 }
        #expect(!m.memoryStats.isResizing)
        let fresh = freshTableCapacity(kept, arena: arena)
        let slots = m.memoryStats.tableCapacity
        print("grown to \(grown) (\(grownSlots) slots), kept \(kept): \(slots) slots, fresh map \(fresh) slots (\(Double(slots) / Double(fresh))×)")
        #expect(slots <= 2 * fresh, "index \(slots) slots for \(kept) entries; a fresh map has \(fresh)")
        m._checkInvariants()
    }

    @Test func noThrashAtTheShrinkBoundary() {
        let arena = PageArena(strategy: .dontNeed)
        var m = ArenaMap<Int, Int>(arena: arena)
        for i in 0..<48_000 { m[i] = i }
        while m.memoryStats.isResizing { m[0] = 0 }
        let slots = m.memoryStats.tableCapacity
        // Remove down to one above the shrink point (3/16 of the slots), then hover across it.
        let boundary = slots * 3 / 16
        for i in (boundary + 1)..<48_000 { m[i] = nil }
        #expect(m.memoryStats.tableCapacity == slots && !m.memoryStats.isResizing)
        var changes = 0
        var last = m.memoryStats.tableCapacity
        for round in 0..<5_000 {
            m[boundary] = nil
            m[boundary] = round
            m[1_000_000 + round % 3] = round
            m[1_000_000 + round % 3] = nil
            let now = m.memoryStats.tableCapacity
            if now != last { changes += 1; last = now }
        }
        print("hovering at the shrink boundary of \(slots) slots: \(changes) index size changes in 5,000 rounds")
        #expect(changes <= 2, "the index resized \(changes) times while the count hovered at the boundary")
        m._checkInvariants()
    }
}
