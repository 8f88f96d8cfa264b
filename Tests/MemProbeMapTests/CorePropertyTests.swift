import MemProbeArena
import MemProbeMap
import PropertyBased
#if canImport(Glibc)
import Glibc
#endif
import MemProbeTestSupport
import Testing

/// One step of a random workload, run on ArenaMap and Dictionary side by side.
enum CoreMapOp: Sendable, CustomStringConvertible {
    case insert(Int, Int)
    case remove(Int)
    case bulkInsert(Int, count: Int)
    case bulkRemove(Int, count: Int)
    case removeAll(keepingCapacity: Bool)
    case shrinkToFit
    case reserve(Int)
    case copyThenMutate(Int, Int)

    var description: String {
        switch self {
        case .insert(let k, let v): "insert(\(k), \(v))"
        case .remove(let k): "remove(\(k))"
        case .bulkInsert(let k, let n): "bulkInsert(\(k), \(n))"
        case .bulkRemove(let k, let n): "bulkRemove(\(k), \(n))"
        case .removeAll(let keep): "removeAll(keepingCapacity: \(keep))"
        case .shrinkToFit: "shrinkToFit"
        case .reserve(let n): "reserve(\(n))"
        case .copyThenMutate(let k, let v): "copyThenMutate(\(k), \(v))"
        }
    }

    static let generator = zip(Gen.int(in: 0...99), Gen.int(in: 0...199), Gen.int(in: -1000...1000)).map { (kind, key, value) -> CoreMapOp in
        switch kind {
        case 0..<40: .insert(key, value)
        case 40..<70: .remove(key)
        case 70..<74: .bulkInsert(key * 10, count: 1_500)   // large enough for an incremental index resize
        case 74..<78: .bulkRemove(key * 10, count: 1_500)
        case 78..<80: .removeAll(keepingCapacity: value > 0)
        case 80..<83: .shrinkToFit
        case 83..<85: .reserve(abs(value) * 3)
        default: .copyThenMutate(key, value)
        }
    }
}

/// Applies `op` to both and checks every result.
func coreApply<K: Hashable>(
    _ op: CoreMapOp, key: (Int) -> K, map: inout ArenaMap<K, Int>, dict: inout [K: Int]
) {
    switch op {
    case .insert(let k, let v):
        #expect(map.updateValue(v, forKey: key(k)) == dict.updateValue(v, forKey: key(k)))
    case .remove(let k):
        #expect(map.removeValue(forKey: key(k)) == dict.removeValue(forKey: key(k)))
    case .bulkInsert(let k, let n):
        for i in k..<k + n { map[key(i)] = i; dict[key(i)] = i }
    case .bulkRemove(let k, let n):
        for i in k..<k + n { #expect(map.removeValue(forKey: key(i)) == dict.removeValue(forKey: key(i))) }
    case .removeAll(let keep):
        map.removeAll(keepingCapacity: keep)
        dict.removeAll(keepingCapacity: keep)
    case .shrinkToFit:
        map.shrinkToFit()
    case .reserve(let n):
        map.reserveCapacity(n)
        #expect(map.capacity >= n)
    case .copyThenMutate(let k, let v):
        let before = map
        let beforeDict = dict
        map[key(k)] = v
        dict[key(k)] = v
        map.removeValue(forKey: key(k + 1))
        dict.removeValue(forKey: key(k + 1))
        #expect(before.count == beforeDict.count && before[key(k)] == beforeDict[key(k)] && before[key(k + 1)] == beforeDict[key(k + 1)])
        before._checkInvariants()
    }
}

@Suite struct CorePropertyTests {
    static let ops = CoreMapOp.generator.array(of: 1...60)
    /// Fewer runs under the sanitizer passes of tools/test.sh: the code paths are the same, and TSan makes each step
    /// ~10× slower.
    static func runs(_ n: Int) -> Int { TestEnvironment.isSanitized ? max(10, n / 4) : n }

    @Test func randomOperationsIntKeys() async {
        await propertyCheck(count: Self.runs(100), input: Self.ops) { ops in
            let arena = PageArena()
            var map = ArenaMap<Int, Int>(arena: arena)
            var dict: [Int: Int] = [:]
            for op in ops {
                coreApply(op, key: { $0 }, map: &map, dict: &dict)
                map._checkInvariants()
                expectArenaInvariants(arena)
                #expect(map.count == dict.count)
            }
            expectSameContents(map, dict)
            map = [:]
            #expect(arena.stats.alloc == 0)
        }
    }

    @Test func randomOperationsCollidingKeys() async {
        await propertyCheck(count: Self.runs(60), input: Self.ops) { ops in
            let arena = PageArena(strategy: .lazyFree)
            var map = ArenaMap<Collider, Int>(arena: arena)
            var dict: [Collider: Int] = [:]
            // 64 hash values for up to thousands of keys: long probe chains everywhere.
            for op in ops {
                coreApply(op, key: { Collider($0, buckets: 64) }, map: &map, dict: &dict)
                map._checkInvariants()
                expectArenaInvariants(arena)
            }
            expectSameContents(map, dict)
        }
    }

    @Test func randomOperationsStringKeysTrackedValues() async {
        await propertyCheck(count: Self.runs(60), input: Self.ops) { ops in
            let counter = LifeCounter()
            let arena = PageArena()
            do {
                var map = ArenaMap<String, Int>(arena: arena)
                var dict: [String: Int] = [:]
                var tracked = ArenaMap<Int, TrackedValue>(arena: arena)
                for op in ops {
                    coreApply(op, key: { "key-\($0)" }, map: &map, dict: &dict)
                    // Mirror the contents into a map of tracked values: live instances must equal its count.
                    if case .insert(let k, let v) = op { tracked[k] = TrackedValue(tracked: CoreTracked(counter, v), label: "") }
                    if case .remove(let k) = op { tracked[k] = nil }
                    if case .removeAll = op { tracked.removeAll() }
                    if case .shrinkToFit = op { tracked.shrinkToFit() }
                    #expect(counter.value == tracked.count)
                }
                map._checkInvariants()
                tracked._checkInvariants()
                expectSameContents(map, dict)
            }
            #expect(counter.value == 0)
            #expect(arena.stats.alloc == 0)
        }
    }
}
