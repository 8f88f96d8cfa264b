import MemProbeArena
import MemProbeMap
import Synchronization
import MemProbeTestSupport
import Testing

/// Counts live instances, per test, so parallel tests do not disturb each other.
final class LifeCounter: Sendable {
    let live = Atomic<Int>(0)
    let created = Atomic<Int>(0)
    var value: Int { live.load(ordering: .relaxed) }
}

/// A class instance whose init/deinit are counted: a value deinitialized twice or leaked shows in `counter`.
final class CoreTracked: Sendable {
    let counter: LifeCounter
    let id: Int
    init(_ counter: LifeCounter, _ id: Int) {
        self.counter = counter
        self.id = id
        counter.live.add(1, ordering: .relaxed)
        counter.created.add(1, ordering: .relaxed)
    }
    deinit { counter.live.subtract(1, ordering: .relaxed) }
}

/// A non-trivial struct value: a class reference, a String and some inline bytes.
struct TrackedValue: Equatable {
    let tracked: CoreTracked
    var label: String
    var pad: (Int, Int, Int) = (1, 2, 3)
    static func == (a: TrackedValue, b: TrackedValue) -> Bool { a.tracked.id == b.tracked.id && a.label == b.label }
}

/// The map's contents equal the dictionary's, through every read API.
func expectSameContents<K: Hashable, V: Equatable>(
    _ map: ArenaMap<K, V>, _ dict: [K: V], sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(map.count == dict.count, sourceLocation: sourceLocation)
    #expect(map.isEmpty == dict.isEmpty, sourceLocation: sourceLocation)
    for (k, v) in dict {
        #expect(map[k] == v, "value of \(k)", sourceLocation: sourceLocation)
    }
    var seen = 0
    for (k, v) in map {
        #expect(dict[k] == v, sourceLocation: sourceLocation)
        seen += 1
    }
    #expect(seen == dict.count, sourceLocation: sourceLocation)
    #expect(Set(map.keys) == Set(dict.keys), sourceLocation: sourceLocation)
}
