import MemProbeArena
import MemProbeSystem
@testable import MemProbeProfile
import Testing
import MemProbeTestSupport

@Suite("Heap profile rate and status")
struct HeapProfileRateTests {
    @Test(arguments: [
        ("524288", 524_288), ("512K", 512 << 10), ("512KiB", 512 << 10), ("512kb", 512 << 10), ("2M", 2 << 20),
        ("2MiB", 2 << 20), ("1G", 1 << 30), ("0", 0), (" 4096 ", 4096), ("16b", 16),
    ])
    func parsesSizes(_ text: String, _ bytes: Int) {
        #expect(HeapProfileRate.parse(text) == bytes)
    }

    @Test(arguments: ["", "-1", "1.5M", "12x", "K", "512 K", "99999999999999999999", "9223372036854775807G", "0x100"])
    func rejectsOtherText(_ text: String) {
        #expect(HeapProfileRate.parse(text) == nil)
    }

    @Test func errorSaysWhatIsAccepted() {
        let d = HeapProfileRateError(value: "12x").description
        #expect(d.contains("MEMPROBE_PROFILE_RATE='12x'") && d.contains("KiB") && d.contains("0 turns"))
    }

    @Test func zeroIntervalTurnsSamplingOff() throws {
        let arena = samplingArena(interval: 0)
        #expect(arena.heapSampler == nil)
        #expect(arena.heapProfileStatus == .off)
        let p = try arena.allocate(byteCount: 1 << 20)
        arena.deallocate(p, byteCount: 1 << 20)
        #expect(throws: HeapProfileError.self) { try HeapProfile.profile(of: [arena]) }
    }

    /// libunwind missing at run time: no sampler, a status that says why and how to fix it, an arena that works.
    @Test func missingLibunwindLeavesTheArenaUnchanged() {
        let (sampler, status) = HeapSampler.make(interval: 512 << 10) { .libunwindUnavailable(.noSuchFileOrDirectory) }
        #expect(sampler == nil)
        guard case .unavailable(let reason) = status else {
            Issue.record("status \(status)")
            return
        }
        #expect(reason.contains("libunwind") && reason.contains("apt-get install"))
    }

    @Test(.enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
    func samplingProbabilityIsPoisson() throws {
        let s = try #require(samplingArena(interval: 1 << 20).heapSampler)
        #expect(abs(s.samplingProbability(size: 1 << 20) - (1 - 1 / 2.718281828459045)) < 1e-9)
        #expect(s.samplingProbability(size: 0) == 0)
        #expect(s.samplingProbability(size: 64 << 20) > 0.999_999)
    }
}

@Suite("Symbol names")
struct SymbolNameTests {
    @Test(arguments: [
        ("function signature specialization <Arg[1] = Dead> of static M.T.f(x: Swift.Int) -> ()", "static M.T.f(x: Swift.Int) -> ()"),
        ("generic specialization <Swift.Int, M.KiB> of M.S.upsert(A, __owned B) -> Swift.Optional<B>", "M.S.upsert(A, __owned B) -> Swift.Optional<B>"),
        ("generic specialization <Swift.Array<Swift.Int>> of function signature specialization <Arg[0] = Dead> of M.g() -> ()", "M.g() -> ()"),
        ("closure #1 () -> () in M.f() -> ()", "closure #1 () -> () in M.f() -> ()"),
        ("generic specialization <unbalanced", "generic specialization <unbalanced"),
    ])
    func specializationPrefixesAreDropped(_ name: String, _ expected: String) {
        #expect(SwiftDemangle.withoutSpecializationPrefixes(name) == expected)
    }

    @Test func swiftAndCxxNamesAreDemangled() {
        #expect(SwiftDemangle.readable("$sSi1poiyS2i_SitFZ") == "static Swift.Int.+ infix(Swift.Int, Swift.Int) -> Swift.Int")
        #expect(SwiftDemangle.readable("_ZN5swift6runJobEPNS_3JobE") == "swift::runJob(swift::Job*)")
        #expect(SwiftDemangle.readable("main") == "main")
    }
}
