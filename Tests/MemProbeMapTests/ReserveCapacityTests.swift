import MemProbeArena
import MemProbeMap
import Testing
import MemProbeTestSupport

/// Issue 11: `reserveCapacity` faults in the pages it reserves (MADV_POPULATE_WRITE), so the inserts that follow do
/// not take one page fault per 4 KiB. Checked with `mincore` (the arena's `residentBytes()`).
@Suite("ArenaMap reserveCapacity prefault")
struct ReserveCapacityTests {
    @Test func reservedEntriesAndIndexAreResidentBeforeTheFirstInsert() throws {
        let arena = PageArena(strategy: .dontNeed)
        let n = 200_000
        let before = try arena.residentBytes()
        var m = ArenaMap<Int, Int>(arena: arena)
        m.reserveCapacity(n)
        let resident = try arena.residentBytes() - before
        let entryBytes = n * MemoryLayout<(Int, Int)>.stride
        let indexBytes = m.memoryStats.tableCapacity * 8
        print("reserveCapacity(\(n)): \(resident >> 10) KiB resident before any insert (entries \(entryBytes >> 10) KiB + index \(indexBytes >> 10) KiB)")
        #expect(resident >= (entryBytes + indexBytes) * 9 / 10)
        #expect(resident <= m.memoryStats.heldBytes + (64 << 10))
        for i in 0..<n { m[i] = i }
        m._checkInvariants()
    }

    @Test func reservingAgainOnlyTouchesTheNewChunks() throws {
        let arena = PageArena(strategy: .dontNeed)
        var m = ArenaMap<String, Int>(arena: arena)
        for i in 0..<50_000 { m["key \(i) padded to be long"] = i }
        m.reserveCapacity(150_000)
        for i in 50_000..<150_000 { m["key \(i) padded to be long"] = i }
        #expect(m.count == 150_000)
        m._checkInvariants()
        #expect(try arena.residentBytes() <= arena.stats.heapInuse + (1 << 20))
    }
}
