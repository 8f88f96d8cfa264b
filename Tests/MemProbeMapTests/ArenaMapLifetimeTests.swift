import MemProbeArena
@testable import MemProbeMap
import MemProbeTestSupport
import Testing

/// Every stored value is deinitialized exactly once: on overwrite, remove, removeAll, resize, copy and drop.
@Suite("ArenaMap value lifetimes and colliding hashes")
struct ArenaMapLifetimeTests {
    @Test func everyValueDestroyedExactlyOnce() {
        let tracker = LifetimeTracker()
        let arena = PageArena(strategy: .dontNeed)
        do {
            var m = ArenaMap<Int, Payload>(arena: arena)
            for i in 0..<3000 { m[i] = Payload(tracked: tracker.instance(i), name: "n\(i)", number: i) }
            #expect(tracker.live == 3000)
            for i in 0..<1000 { m[i] = Payload(tracked: tracker.instance(-i), name: "o\(i)", number: -i) }  // overwrite
            #expect(tracker.live == 3000, "overwritten values must be destroyed")
            #expect(m.updateValue(Payload(tracked: tracker.instance(7), name: "u", number: 7), forKey: 2000)?.number == 2000)
            #expect(tracker.live == 3000)
            for i in stride(from: 0, to: 3000, by: 3) { _ = m.removeValue(forKey: i) }  // swap-removes, shrinks
            #expect(tracker.live == 2000)
            m._checkInvariants()
            var copy = m  // shared storage
            copy[5000] = Payload(tracked: tracker.instance(5000), name: "c", number: 5000)  // copies every value
            #expect(tracker.live == 2001, "a copy shares class instances, it does not create them")
            copy.removeAll(keepingCapacity: true)
            #expect(tracker.live == 2000)
            m.shrinkToFit()
            #expect(tracker.live == 2000)
            m.removeAll(keepingCapacity: true)
            #expect(tracker.live == 0)
            for i in 0..<10 { m[i] = Payload(tracked: tracker.instance(i), name: "", number: i) }
        }
        #expect(tracker.live == 0, "dropping the map destroys the rest: created \(tracker.created), destroyed \(tracker.destroyed)")
        #expect(arena.stats.alloc == 0, "all chunks and tables went back to the arena")
    }

    @Test func trackedKeysToo() {
        let tracker = LifetimeTracker()
        let arena = PageArena(strategy: .dontNeed)
        do {
            var m = ArenaMap<Tracked, Int>(arena: arena)
            for i in 0..<2000 { m[tracker.instance(i)] = i }
            // Looking up with an equal key instance finds it; the probe key is not stored.
            #expect(m[tracker.instance(10)] == 10)
            m[tracker.instance(10)] = 11  // updates: the new key instance is dropped, the stored one kept
            #expect(m.count == 2000)
            for i in 0..<1500 { m[tracker.instance(i)] = nil }
            #expect(tracker.live == 500)
        }
        #expect(tracker.live == 0)
        #expect(arena.stats.alloc == 0)
    }

    @Test func allKeysInOneHash() {
        // Worst case: every key has the same hash. Still correct, still shrinks.
        let arena = PageArena(strategy: .dontNeed)
        var m = ArenaMap<Collider, Int>(arena: arena)
        for i in 0..<700 { m[Collider(i, hash: 42)] = i }
        m._checkInvariants()
        #expect(m.count == 700)
        for i in 0..<700 { #expect(m[Collider(i, hash: 42)] == i) }
        #expect(m[Collider(700, hash: 42)] == nil)
        for i in stride(from: 0, to: 700, by: 2) { #expect(m.removeValue(forKey: Collider(i, hash: 42)) == i) }
        m._checkInvariants()
        for i in 0..<700 { #expect(m[Collider(i, hash: 42)] == (i % 2 == 1 ? i : nil)) }
        for i in 0..<700 { m[Collider(i, hash: 42)] = nil }
        #expect(m.isEmpty)
        m._checkInvariants()
    }

    @Test func hashesThatDifferOnlyInHighBits() {
        // Hashes equal in their low 32 bits (or high bits): the index must still tell the keys apart by ==.
        var m = ArenaMap<Collider, Int>(arena: PageArena(strategy: .dontNeed))
        for i in 0..<2000 { m[Collider(i, hash: (i % 5) << 40 | 7)] = i }
        for i in 0..<2000 { #expect(m[Collider(i, hash: (i % 5) << 40 | 7)] == i) }
        for i in 0..<2000 where i % 3 == 0 { m[Collider(i, hash: (i % 5) << 40 | 7)] = nil }
        m._checkInvariants()
        #expect(m.count == 2000 - 667)
    }
}
