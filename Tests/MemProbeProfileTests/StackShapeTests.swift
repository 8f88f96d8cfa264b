import MemProbeArena
@testable import MemProbeProfile
import Testing

/// 16 allocations of 64 KiB (with a 4 KiB interval every one is sampled with probability 1 − e⁻¹⁶).
@inline(never)
func genericAllocateProfileTest<T>(_ arena: PageArena, _ type: T.Type) throws -> [UnsafeMutableRawPointer] {
    try (0..<16).map { _ in try arena.allocate(byteCount: 64 << 10, alignment: MemoryLayout<T>.alignment) }
}

@inline(never)
func withClosureProfileTest<R>(_ body: () throws -> R) rethrows -> R { try body() }

@inline(never)
func asyncAllocateProfileTest(_ arena: PageArena) async throws -> [UnsafeMutableRawPointer] {
    await Task.yield()  // resume on an executor thread: the allocation runs in a partial function
    var out: [UnsafeMutableRawPointer] = []
    for _ in 0..<16 { out.append(try arena.allocate(byteCount: 64 << 10)) }
    return out
}

@Suite("Heap profile stacks", .enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
struct StackShapeTests {
    @Test func stacksThroughGenericsClosuresAndAsyncNameTheAllocatingFunction() async throws {
        let arena = samplingArena(interval: 4 << 10)
        var blocks = try genericAllocateProfileTest(arena, UInt64.self)
        blocks.append(try withClosureProfileTest { try arena.allocate(byteCount: 64 << 10) })
        blocks += try await asyncAllocateProfileTest(arena)
        let profile = try writeAndCheck(
            try HeapProfile.profile(of: [arena]), name: "stack-shapes",
            functions: ["genericAllocateProfileTest", "withClosureProfileTest", "closure #1", "asyncAllocateProfileTest"])
        let perCall = Int64(16 << 16)
        // Every one of these allocations is sampled (p = 1 − e⁻¹⁶), so the figures are exact to a few bytes.
        #expect(abs(cumulative(profile, "inuse_space", function: "genericAllocateProfileTest") - perCall) < 64)
        #expect(abs(cumulative(profile, "inuse_space", function: "asyncAllocateProfileTest") - perCall) < 64)
        let closure = "closure #1 () throws -> Swift.UnsafeMutableRawPointer in MemProbeProfileTests.StackShapeTests"
        #expect(abs(cumulative(profile, "inuse_space", function: closure) - Int64(64 << 10)) < 64)
        #expect(abs(cumulative(profile, "inuse_space", function: "withClosureProfileTest") - Int64(64 << 10)) < 64)
        // The innermost frame of each sample is the caller's, never the sampler's or PageArena.allocate.
        let names = Dictionary(uniqueKeysWithValues: profile.functions.map { ($0.id, $0.name) })
        let locations = Dictionary(uniqueKeysWithValues: profile.locations.map { ($0.id, $0) })
        for s in profile.samples {
            let innermost = locations[s.locationIDs[0]]!.lines.first.flatMap { names[$0.functionID] } ?? ""
            #expect(!PprofBuilder.isSamplerFrame(innermost) && !innermost.contains("PageArena.allocate"), "\(innermost)")
        }
        // File and line from DWARF (debug builds and SwiftPM release builds carry .debug_line): the allocating lines.
        func lines(of needle: String) -> Set<String> {
            let ids = Set(profile.functions.filter { $0.name.contains(needle) }.map(\.id))
            let files = Dictionary(uniqueKeysWithValues: profile.functions.map { ($0.id, $0.filename) })
            return Set(profile.locations.flatMap(\.lines).filter { ids.contains($0.functionID) }.map {
                "\(files[$0.functionID]!.split(separator: "/").last ?? ""):\($0.line)"
            })
        }
        #expect(lines(of: "suspend resume partial function for MemProbeProfileTests.asyncAllocateProfileTest").contains("StackShapeTests.swift:18"))
        #expect(lines(of: "MemProbeProfileTests.withClosureProfileTest").contains("StackShapeTests.swift:12"))
        #expect(profile.mappings.first { $0.hasLineNumbers }?.filename.hasSuffix(".xctest") == true)
        for b in blocks { arena.deallocate(b, byteCount: 64 << 10) }
        #expect(arena.heapSampler!.counters.liveSamples == 0)
    }
}


@inline(never)
func allocateInTwoArenasProfileTest(_ a: PageArena, _ b: PageArena) throws -> [(PageArena, UnsafeMutableRawPointer)] {
    try (0..<8).flatMap { _ in [(a, try a.allocate(byteCount: 64 << 10)), (b, try b.allocate(byteCount: 64 << 10))] }
}

@Suite("Whole-process heap profile", .enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
struct WholeProcessProfileTests {
    /// `HeapProfile.write(toPath:)` (what a governor's profile request calls) covers every live arena.
    @Test func writeCoversEveryArena() throws {
        let a = samplingArena(interval: 4 << 10), b = samplingArena(interval: 4 << 10)
        let blocks = try allocateInTwoArenasProfileTest(a, b)
        defer { for (arena, p) in blocks { arena.deallocate(p, byteCount: 64 << 10) } }
        let path = "\(profileDirectory)/whole-process.pb.gz"
        try HeapProfile.write(toPath: path)
        let gz = try ProfileFile.read(path)
        let profile = try writeAndCheck(gz, name: "whole-process", functions: ["allocateInTwoArenasProfileTest"])
        // 16 × 64 KiB from both arenas, each sampled with p = 1 − e⁻¹⁶.
        #expect(abs(cumulative(profile, "inuse_space", function: "allocateInTwoArenasProfileTest") - Int64(16 << 16)) < 256)
        #expect(HeapSamplerRegistry.all().contains { $0 === a.heapSampler })
    }

    @Test func samplersLeaveTheRegistryWithTheirArena() {
        var arena: PageArena? = samplingArena(interval: 4 << 10)
        let id = ObjectIdentifier(arena!.heapSampler!)
        #expect(HeapSamplerRegistry.all().contains { ObjectIdentifier($0) == id })
        arena = nil
        #expect(!HeapSamplerRegistry.all().contains { ObjectIdentifier($0) == id })
    }
}
