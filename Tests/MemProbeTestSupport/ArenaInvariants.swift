import MemProbeArena
import Testing

/// The invariants every arena snapshot must satisfy (design §2): `Alloc ≤ HeapInuse`, `HeapInuse + HeapIdle = Sys`,
/// `HeapReleased = lazy + discarded ≤ HeapIdle`, nothing negative.
public func expectInvariants(_ s: ArenaStats, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(s.alloc >= 0 && s.alloc <= s.heapInuse, "Alloc ≤ HeapInuse: \(s)", sourceLocation: sourceLocation)
    #expect(s.heapInuse + s.heapIdle == s.sys, "HeapInuse + HeapIdle = Sys: \(s)", sourceLocation: sourceLocation)
    #expect(s.heapReleased == s.heapReleasedLazy + s.heapReleasedDiscarded, "\(s)", sourceLocation: sourceLocation)
    #expect(s.heapReleased <= s.heapIdle, "HeapReleased ≤ HeapIdle: \(s)", sourceLocation: sourceLocation)
    #expect(s.heapReleasedLazy >= 0 && s.heapReleasedDiscarded >= 0 && s.heapIdle >= 0, "\(s)", sourceLocation: sourceLocation)
}

/// ``expectInvariants(_:sourceLocation:)`` on the arena's current statistics.
public func expectArenaInvariants(_ arena: PageArena, sourceLocation: SourceLocation = #_sourceLocation) {
    expectInvariants(arena.stats, sourceLocation: sourceLocation)
}
