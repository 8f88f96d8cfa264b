import MemProbeArena
@testable import MemProbeMap
import MemProbeTestSupport
import Testing

@Suite("ArenaMap copy-on-write")
struct ArenaMapCopyOnWriteTests {
    @Test func mutatingACopyLeavesTheOriginal() {
        let arena = PageArena(strategy: .dontNeed)
        var a = ArenaMap<Int, String>(arena: arena)
        for i in 0..<2000 { a[i] = "v\(i)" }
        var b = a
        b[0] = "changed"
        b[5000] = "new"
        _ = b.removeValue(forKey: 1)
        #expect(a[0] == "v0" && a[5000] == nil && a[1] == "v1" && a.count == 2000)
        #expect(b[0] == "changed" && b[5000] == "new" && b[1] == nil && b.count == 2000)
        var c = a
        c.removeAll()
        #expect(a.count == 2000 && c.isEmpty)
        var d = a
        d.shrinkToFit()
        d.reserveCapacity(100_000)
        a[3] = "a3"
        #expect(d[3] == "v3" && a[3] == "a3")
        a._checkInvariants()
        b._checkInvariants()
        d._checkInvariants()
    }

    @Test func uniqueMapMutatesInPlace() {
        var a = ArenaMap<Int, Int>(arena: PageArena(strategy: .dontNeed))
        for i in 0..<100 { a[i] = i }
        let held = a.memoryStats.heldBytes
        for i in 0..<100 { a[i, default: 0] += 1 }
        #expect(a.memoryStats.heldBytes == held, "no copy, no new storage when the map is unique")
        #expect(a[99] == 100)
    }

    @Test func copiesSharedAcrossTasksStayIndependent() async {
        // One map copied into many tasks: each mutates its own copy while the others read theirs (TSan checks
        // that the uniqueness test and the copy do not race).
        let arena = PageArena(strategy: .dontNeed)
        var base = ArenaMap<Int, Int>(arena: arena)
        for i in 0..<3000 { base[i] = i }
        let shared = base
        await withTaskGroup(of: Bool.self) { group in
            for t in 0..<4 {
                group.addTask {
                    var mine = shared
                    for i in 0..<3000 where i % 4 == t { mine[i] = -i }
                    for i in 0..<500 { mine[10_000 + i] = t }
                    var ok = mine.count == 3500
                    for i in 0..<3000 { ok = ok && mine[i] == (i % 4 == t ? -i : i) }
                    for i in 0..<3000 { ok = ok && shared[i] == i }
                    return ok
                }
            }
            for await ok in group { #expect(ok) }
        }
        #expect(base.count == 3000 && base[5] == 5)
    }
}
