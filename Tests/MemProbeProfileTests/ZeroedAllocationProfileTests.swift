import MemProbeArena
@testable import MemProbeProfile
import Testing

@inline(never)
func zeroedAllocateProfileTest(_ arena: PageArena) throws -> [UnsafeMutableRawPointer] {
    try (0..<16).map { _ in try arena.allocateZeroed(byteCount: 64 << 10) }
}

/// `PageArena.allocateZeroed` (ArenaMap's index tables) is sampled like `allocate`, retired by `deallocate`, and its
/// samples name the caller, not the arena's entry point.
@Suite("Heap profile of zeroed allocations", .enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
struct ZeroedAllocationProfileTests {
    @Test func zeroedAllocationsAreSampledAndNamedAfterTheirCaller() throws {
        let arena = samplingArena(interval: 4 << 10)
        let blocks = try zeroedAllocateProfileTest(arena)
        #expect(arena.stats.zeroedAllocations == 16)
        let profile = try writeAndCheck(try HeapProfile.profile(of: [arena]), name: "zeroed", functions: ["zeroedAllocateProfileTest"])
        // Every allocation is sampled (p = 1 − e⁻¹⁶ each), so the estimate is exact to a few bytes.
        #expect(abs(cumulative(profile, "inuse_space", function: "zeroedAllocateProfileTest") - Int64(16 << 16)) < 64)
        let names = Dictionary(uniqueKeysWithValues: profile.functions.map { ($0.id, $0.name) })
        let locations = Dictionary(uniqueKeysWithValues: profile.locations.map { ($0.id, $0) })
        for s in profile.samples {
            let innermost = locations[s.locationIDs[0]]!.lines.first.flatMap { names[$0.functionID] } ?? ""
            #expect(!innermost.contains("PageArena.allocate"), "\(innermost)")
        }
        for b in blocks { arena.deallocate(b, byteCount: 64 << 10) }
        #expect(arena.heapSampler!.counters.liveSamples == 0)
    }
}
