import MemProbeArena
import MemProbeMap
import MemProbeTestSupport
import Testing

@Suite struct CoreAPITests {
    @Test func basicOperationsMatchDictionary() {
        let arena = PageArena()
        var m = ArenaMap<String, Int>(arena: arena)
        #expect(m.isEmpty && m.count == 0 && m["a"] == nil)
        #expect(m.updateValue(1, forKey: "a") == nil)
        #expect(m.updateValue(2, forKey: "a") == 1)
        m["b"] = 3
        m["c", default: 10] += 5
        m["b", default: 0] += 1
        #expect(m["a"] == 2 && m["b"] == 4 && m["c"] == 15 && m["zz", default: -1] == -1)
        #expect(m.count == 3 && m.contains("a") && !m.contains("zz"))
        #expect(m.keys.contains("c") && m.values.reduce(0, +) == 21)
        let i = try! #require(m.index(forKey: "b"))
        #expect(m[i].key == "b" && m[i].value == 4)
        #expect(m.index(forKey: "nope") == nil)
        m["a"] = nil
        #expect(m.removeValue(forKey: "b") == 4)
        #expect(m.removeValue(forKey: "b") == nil)
        #expect(m.count == 1 && Array(m.keys) == ["c"])
        m._checkInvariants()
        m.removeAll()
        #expect(m.isEmpty && m.memoryStats.heldBytes == 0)
        expectArenaInvariants(arena)
    }

    @Test func literalEquatableAndDescription() {
        let m: ArenaMap<Int, String> = [1: "one", 2: "two"]
        var n = ArenaMap<Int, String>()
        #expect(n.description == "[:]")
        n[2] = "two"
        n[1] = "one"
        #expect(m == n)
        n[1] = "uno"
        #expect(m != n)
        let single: ArenaMap<Int, String> = [7: "seven"]
        #expect(single.description == "[7: \"seven\"]")
        #expect(m.description.contains("1: \"one\"") && m.description.contains("2: \"two\""))
        #expect(m.arena === PageArena.shared)
    }

    @Test func growsAndShrinksWithInvariants() {
        let arena = PageArena()
        var m = ArenaMap<Int, Int>(arena: arena)
        var d: [Int: Int] = [:]
        for i in 0..<20_000 {
            m[i &* 7919] = i
            d[i &* 7919] = i
            if i % 997 == 0 { m._checkInvariants() }
        }
        expectSameContents(m, d)
        let peakHeld = m.memoryStats.heldBytes
        for i in 0..<19_990 {
            #expect(m.removeValue(forKey: i &* 7919) == d.removeValue(forKey: i &* 7919))
            if i % 997 == 0 { m._checkInvariants() }
        }
        m._checkInvariants()
        expectSameContents(m, d)
        let stats = m.memoryStats
        #expect(stats.heldBytes < peakHeld / 4, "held \(stats.heldBytes) of peak \(peakHeld)")
        #expect(stats.tableCapacity <= 128)
        m.shrinkToFit()
        m._checkInvariants()
        #expect(m.memoryStats.heldBytes <= 4096 * 2)
        expectSameContents(m, d)
        expectArenaInvariants(arena)
    }

    @Test func reserveCapacityAvoidsLaterAllocation() {
        let arena = PageArena()
        var m = ArenaMap<Int, Int>(arena: arena, minimumCapacity: 10_000)
        let held = m.memoryStats.heldBytes
        #expect(m.capacity >= 10_000)
        for i in 0..<10_000 { m[i] = i }
        #expect(m.memoryStats.heldBytes == held)
        m._checkInvariants()
        m.reserveCapacity(50_000)
        #expect(m.capacity >= 50_000)
        m._checkInvariants()
        #expect(m[9_999] == 9_999)
    }

    @Test func removeAllKeepingCapacity() {
        var m = ArenaMap<Int, Int>(arena: PageArena())
        for i in 0..<5_000 { m[i] = i }
        let held = m.memoryStats.heldBytes
        m.removeAll(keepingCapacity: true)
        #expect(m.isEmpty && m.memoryStats.heldBytes == held)
        m._checkInvariants()
        for i in 0..<5_000 { m[i] = -i }
        #expect(m.count == 5_000 && m[4_999] == -4_999 && m.memoryStats.heldBytes == held)
        m._checkInvariants()
    }

    @Test func copyOnWriteIsolation() {
        let arena = PageArena()
        var a = ArenaMap<Int, String>(arena: arena)
        for i in 0..<3_000 { a[i] = "v\(i)" }
        var b = a
        b[0] = "changed"
        b[5_000] = "new"
        b.removeValue(forKey: 1)
        #expect(a[0] == "v0" && a[5_000] == nil && a[1] == "v1" && a.count == 3_000)
        #expect(b[0] == "changed" && b[5_000] == "new" && b[1] == nil && b.count == 3_000)
        var c = a
        c.removeAll()
        #expect(a.count == 3_000 && c.isEmpty)
        var d = a
        d.shrinkToFit()
        d.reserveCapacity(10_000)
        #expect(d == a)
        let keys = a.keys
        a[0] = nil
        #expect(keys.count == 3_000)
        a._checkInvariants()
        b._checkInvariants()
        expectArenaInvariants(arena)
    }

    @Test func collidingHashes() {
        var m = ArenaMap<Collider, Int>(arena: PageArena())
        var d: [Collider: Int] = [:]
        for i in 0..<600 {
            m[Collider(i, buckets: 3)] = i
            d[Collider(i, buckets: 3)] = i
        }
        m._checkInvariants()
        expectSameContents(m, d)
        for i in stride(from: 0, to: 600, by: 2) {
            #expect(m.removeValue(forKey: Collider(i, buckets: 3)) == d.removeValue(forKey: Collider(i, buckets: 3)))
        }
        m._checkInvariants()
        expectSameContents(m, d)
        #expect(m[Collider(601, buckets: 3)] == nil)
    }

    @Test func valuesDeinitializedExactlyOnce() {
        let counter = LifeCounter()
        let arena = PageArena()
        do {
            var m = ArenaMap<String, TrackedValue>(arena: arena)
            for i in 0..<4_000 { m["k\(i)"] = TrackedValue(tracked: CoreTracked(counter, i), label: "l\(i)") }
            #expect(counter.value == 4_000)
            for i in 0..<1_000 { m["k\(i)"] = TrackedValue(tracked: CoreTracked(counter, -i), label: "x") }   // replace
            #expect(counter.value == 4_000)
            for i in 1_000..<3_500 { m["k\(i)"] = nil }
            #expect(counter.value == 1_500)
            var copy = m                       // shared until written
            copy["k0"] = nil                   // copy-on-write duplicates references, not instances
            #expect(counter.value == 1_500)
            copy.removeAll(keepingCapacity: true)
            #expect(counter.value == 1_500)
            m.shrinkToFit()
            m._checkInvariants()
            #expect(counter.value == 1_500)
        }
        #expect(counter.value == 0, "\(counter.value) values leaked or freed twice")
        #expect(arena.stats.alloc == 0, "the dropped maps returned every byte")
        expectArenaInvariants(arena)
    }

    @Test func dropReturnsEverythingToTheArena() {
        let arena = PageArena()
        do {
            var m = ArenaMap<Int, KiB>(arena: arena)
            for i in 0..<3_000 { m[i] = KiB(i) }
            #expect(arena.stats.alloc >= 3_000 * 1024)
            #expect(m.memoryStats.heldBytes >= m.memoryStats.liveBytes)
        }
        #expect(arena.stats.alloc == 0)
        // Only size-class spare pages (one empty page per class) may stay in use: the small index tables of a
        // growing map (8, 16, … 256 slots: 64 B – 2 KiB) and its directory touch up to ~8 classes.
        #expect(arena.stats.heapInuse <= 32 << 10, "only size-class spare pages may stay in use")
        expectArenaInvariants(arena)
    }
}
