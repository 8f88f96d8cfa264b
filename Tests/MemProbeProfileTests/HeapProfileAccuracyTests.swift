import MemProbeArena
import MemProbeMap
@testable import MemProbeProfile
import Testing
import MemProbeTestSupport

/// 64-byte map values: a map's chunks grow with its entries.
struct Payload: Equatable {
    var a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0
}

/// What one allocating function made: raw arena allocations and a map.
struct Allocations {
    var raw: [UnsafeMutableRawPointer] = []
    var map: ArenaMap<Int, Payload>
    let arena: PageArena
    mutating func free() {
        for p in raw { arena.deallocate(p, byteCount: Allocations.rawSize) }
        raw = []
        map = ArenaMap(arena: arena)
    }
    static let rawSize = 64 << 10
}

/// `units` × (64 MiB of raw 64 KiB allocations + a 100,000-entry map).
@inline(never)
func allocateThreeUnitsProfileTest(_ arena: PageArena) throws -> Allocations {
    try allocateUnits(3, arena)
}

@inline(never)
func allocateOneUnitProfileTest(_ arena: PageArena) throws -> Allocations {
    try allocateUnits(1, arena)
}

@inline(never)
func allocateUnits(_ units: Int, _ arena: PageArena) throws -> Allocations {
    var a = Allocations(map: ArenaMap(arena: arena), arena: arena)
    for _ in 0..<(units * 1024) { a.raw.append(try arena.allocate(byteCount: Allocations.rawSize)) }
    for k in 0..<(units * 100_000) { a.map[k] = Payload(a: k) }
    return a
}

@Suite("Heap profile accuracy", .enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
struct HeapProfileAccuracyTests {
    /// Sampling interval for the accuracy checks: at 64 KiB the relative standard error of one function's estimate
    /// is ≈ 2.5 % (±10 % is four standard errors); at 512 KiB it would be ≈ 7 % for the 64 MiB function.
    static let interval = 64 << 10

    @Test func attributesBytesToTheAllocatingFunctions() throws {
        let arena = samplingArena(interval: Self.interval)
        let a0 = arena.stats.alloc
        var three = try allocateThreeUnitsProfileTest(arena)
        let a1 = arena.stats.alloc
        var one = try allocateOneUnitProfileTest(arena)
        let a2 = arena.stats.alloc
        let threeTruth = Double(a1 - a0), oneTruth = Double(a2 - a1)

        let p = try writeAndCheck(try HeapProfile.profile(of: [arena]), name: "accuracy-live",
                                  functions: ["allocateThreeUnitsProfileTest", "allocateOneUnitProfileTest"])
        let threeInuse = Double(cumulative(p, "inuse_space", function: "allocateThreeUnitsProfileTest"))
        let oneInuse = Double(cumulative(p, "inuse_space", function: "allocateOneUnitProfileTest"))
        print("truth 3:\(threeTruth) 1:\(oneTruth)  profile 3:\(threeInuse) 1:\(oneInuse) total \(total(p, "inuse_space")) alloc \(arena.stats.alloc)")
        #expect(abs(threeInuse / threeTruth - 1) < 0.10, "three-unit function: \(threeInuse) vs \(threeTruth)")
        #expect(abs(oneInuse / oneTruth - 1) < 0.10, "one-unit function: \(oneInuse) vs \(oneTruth)")
        #expect(abs(Double(total(p, "inuse_space")) / Double(arena.stats.alloc) - 1) < 0.10)
        let ratio = threeInuse / oneInuse
        #expect(ratio > 2.7 && ratio < 3.3, "3:1 ratio measured \(ratio)")

        // Free the first function's data: its in-use share drops to ~0, its alloc figures stay.
        let threeAlloc = Double(cumulative(p, "alloc_space", function: "allocateThreeUnitsProfileTest"))
        three.free()
        let q = try writeAndCheck(try HeapProfile.profile(of: [arena]), name: "accuracy-freed",
                                  functions: ["allocateThreeUnitsProfileTest", "allocateOneUnitProfileTest"])
        let threeAfter = Double(cumulative(q, "inuse_space", function: "allocateThreeUnitsProfileTest"))
        let totalAfter = Double(total(q, "inuse_space"))
        #expect(threeAfter < 0.01 * totalAfter, "freed function still holds \(threeAfter) of \(totalAfter)")
        #expect(Double(cumulative(q, "alloc_space", function: "allocateThreeUnitsProfileTest")) == threeAlloc)
        #expect(abs(Double(cumulative(q, "inuse_space", function: "allocateOneUnitProfileTest")) / oneTruth - 1) < 0.10)
        #expect(abs(totalAfter / Double(arena.stats.alloc) - 1) < 0.10, "total \(totalAfter) vs Alloc \(arena.stats.alloc)")
        one.free()
        #expect(arena.heapSampler!.counters.liveSamples == 0, "every sampled allocation was retired")
    }
}
