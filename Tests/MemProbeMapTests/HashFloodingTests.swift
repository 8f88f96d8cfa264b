import MemProbeArena
@testable import MemProbeMap
import Testing
import MemProbeTestSupport

/// Issue 13 §1: Int keys hash with a keyed mix (the seeds folded into the multiplies), the seeds never show through
/// the public API or reflection, and storages re-seed when emptied.
///
/// Work is measured as index probes (`_probeStatistics()`: slots a successful lookup of every key compares), not as
/// wall time. Every insert, lookup and removal of a key walks exactly that probe sequence (home bucket → its slot;
/// a removal's backward shift walks the rest of the same cluster), and the time of an operation on a large table is
/// the number of slots it visits times a per-slot cost that does not depend on the keys. So "probes for this key set
/// ÷ probes for random keys in a map of the same size" is the time ratio without the scheduler noise of a shared VM,
/// and it is deterministic for a given seed: the test cannot flake on timing.
@Suite("ArenaMap hash flooding")
struct HashFloodingTests {
    static let keysPerMap = 1 << 14
    static let maps = 200

    /// `k = i · (2^(32+t) + 2^t)`: keys whose two 32-bit halves are equal (packed `(a, a)` pairs). With the old
    /// hash (key XOR seed, one fixed multiply) this family formed long clusters for a share of all seeds.
    static func equalHalves(_ n: Int, shift t: Int) -> [Int] {
        (1...n).map { Int(bitPattern: UInt(UInt64($0) &* ((1 << (32 + UInt64(t))) &+ (1 << UInt64(t))))) }
    }

    @Test func equalHalvesFamilyIsNoWorseThanRandomKeysInAnyOf200Maps() {
        let arena = PageArena(strategy: .retain)
        var rng = SystemRandomNumberGenerator()
        var worst = 0.0
        for m in 0..<Self.maps {
            let family = Self.equalHalves(Self.keysPerMap, shift: m % 17)
            var a = ArenaMap<Int, Int>(arena: arena)
            for k in family { a[k] = k }
            var r = ArenaMap<Int, Int>(arena: arena)
            while r.count < Self.keysPerMap { let k = Int.random(in: .min ... .max, using: &rng); r[k] = k }
            #expect(a.memoryStats.tableCapacity == r.memoryStats.tableCapacity)
            let ratio = Double(a._probeStatistics().totalProbes) / Double(r._probeStatistics().totalProbes)
            worst = max(worst, ratio)
            #expect(ratio <= 3, "map \(m): the equal-halves family needs \(ratio)× the probes of random keys")
        }
        print("equal-halves family over \(Self.maps) maps of \(Self.keysPerMap) keys: worst \(worst)× the probes of random keys")
    }

    /// The measure has teeth: the same family under the previous hash (`mum(k ⊕ seed, constant)`), simulated on a
    /// plain linear-probing table of the same size, exceeds 3× for some of 200 random seeds.
    @Test func previousHashFailsTheSameMeasure() {
        func mum(_ x: UInt64, _ y: UInt64) -> UInt64 { let p = x.multipliedFullWidth(by: y); return p.high ^ p.low }
        func oldHash(_ k: UInt64, _ s: UInt64) -> UInt32 {
            let h = mum(k ^ s, 0x9E37_79B9_7F4A_7C15)
            return UInt32(truncatingIfNeeded: h ^ (h >> 32))
        }
        func probes(_ keys: [UInt64], _ seed: UInt64, capacity: Int) -> Int {
            var used = [Bool](repeating: false, count: capacity)
            var total = 0
            for k in keys {
                var b = Int(oldHash(k, seed)) & (capacity - 1)
                total += 1
                while used[b] { b = (b + 1) & (capacity - 1); total += 1 }
                used[b] = true
            }
            return total
        }
        var rng = SystemRandomNumberGenerator()
        let capacity = 2 * Self.keysPerMap  // the table ArenaMap has at this count (load 1/2)
        var bad = 0
        for m in 0..<Self.maps {
            let seed = UInt64.random(in: 0 ... .max, using: &rng) | 1
            let family = Self.equalHalves(Self.keysPerMap, shift: m % 17).map { UInt64(UInt(bitPattern: $0)) }
            let random = (0..<Self.keysPerMap).map { _ in UInt64.random(in: 0 ... .max, using: &rng) }
            if probes(family, seed, capacity: capacity) > 3 * probes(random, seed, capacity: capacity) { bad += 1 }
        }
        print("previous hash: \(bad) of \(Self.maps) seeds over 3× random keys")
        #expect(bad > 0)
    }

    @Test func dumpAndMirrorShowEntriesButNoSeed() {
        var m = ArenaMap<Int, Int>()
        for i in 0..<5 { m[i] = i * 10 }
        var dumped = ""
        dump(m, to: &dumped)
        let seeds = [m._storage.seed0, m._storage.seed1]
        for s in seeds {
            for text in [String(s), String(Int64(bitPattern: s)), String(s, radix: 16), String(UInt32(truncatingIfNeeded: s))] {
                #expect(!dumped.contains(text), "dump shows a seed: \(dumped)")
            }
        }
        #expect(!dumped.lowercased().contains("seed"))
        #expect(!dumped.contains("_storage"))
        let mirror = Mirror(reflecting: m)
        #expect(mirror.displayStyle == .dictionary)
        #expect(mirror.children.count == 5)
        #expect(!String(describing: m).contains(String(seeds[0])))
        #expect(!String(reflecting: m).contains(String(seeds[0])))
    }

    @Test func storageReseedsWhenEmptied() {
        var m = ArenaMap<Int, Int>()
        for i in 0..<1000 { m[i] = i }
        var seen: Set<UInt64> = [m._storage.seed0]
        m.removeAll()
        #expect(seen.insert(m._storage.seed0).inserted, "removeAll() kept the seed")
        for i in 0..<1000 { m[i] = i }
        m.removeAll(keepingCapacity: true)
        #expect(seen.insert(m._storage.seed0).inserted, "removeAll(keepingCapacity: true) kept the seed")
        for i in 0..<1000 { m[i] = i }
        for i in 0..<1000 { m[i] = nil }
        m._checkInvariants()
        #expect(seen.insert(m._storage.seed0).inserted, "removing every key one by one kept the seed")
        for i in 0..<1000 { m[i] = i }  // usable after re-seeding
        m._checkInvariants()
        #expect(m.count == 1000 && m[999] == 999)
        // Two maps never share seeds.
        let other = ArenaMap<Int, Int>()
        #expect(other._storage.seed0 != m._storage.seed0)
    }
}
