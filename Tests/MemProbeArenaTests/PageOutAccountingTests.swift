#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import MemProbeTestSupport
import Testing

/// MADV_PAGEOUT is best effort: lazily freed pages still sitting in another CPU's per-CPU lazy-free batch cannot be
/// isolated and stay resident (measured here: 16 pages of 64 MiB when FREE ran on CPU 0 and PAGEOUT on CPU 1). The
/// arena must not count those as discarded: they stay lazy, so mincore ≤ Sys − discarded holds.
@Suite struct PageOutAccountingTests {
    /// `sched_{get,set}affinity` are GNU extensions the Glibc module does not export; look them up instead.
    typealias AffinityCall = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    static func affinityCall(_ name: String) -> AffinityCall? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: AffinityCall.self) }
    }

    /// Runs `body` with the calling thread pinned to `cpu`, restoring its affinity afterwards; nil if it cannot pin.
    static func onCPU<R>(_ cpu: Int, _ body: () throws -> R) rethrows -> R? {
        guard let get = affinityCall("sched_getaffinity"), let set = affinityCall("sched_setaffinity") else { return nil }
        let size = 128  // bytes of a cpu_set_t (1024 CPUs)
        let saved = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        let only = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { saved.deallocate(); only.deallocate() }
        guard get(0, size, saved) == 0 else { return nil }
        defer { _ = set(0, size, saved) }
        only.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        only.storeBytes(of: UInt64(1) << UInt64(cpu % 64), toByteOffset: (cpu / 64) * 8, as: UInt64.self)
        guard set(0, size, only) == 0 else { return nil }
        return try body()
    }

    @Test(.enabled(if: TestEnvironment.onlineCPUs >= 2, "PAGEOUT from another CPU needs 2 CPUs"))
    func pagesPageOutMissedStayLazy() throws {
        let size = 16 * MiB  // the residue is one CPU's batch (≤ 31 pages) whatever the size; keep the churn small
        var sawResidue = false
        for _ in 0..<3 {
            let arena = PageArena(strategy: .retain, configuration: .init(regionSize: size))
            let freed: Bool? = try Self.onCPU(0) {
                let p = try arena.allocate(byteCount: size)
                touch(p, size)
                arena.deallocate(p, byteCount: size)
                try arena.release(using: .lazyFree)  // MADV_FREE on CPU 0: its lazy-free batch holds the last pages
                return true
            }
            // Pinning works wherever 2 CPUs are online (root or not): a failure here is a failure.
            try #require(freed != nil, "cannot pin the thread to CPU 0")
            _ = try Self.onCPU(1) { try arena.release(using: .freeThenPageOut(delay: .zero)) }  // PAGEOUT on CPU 1
            let s = arena.stats
            let resident = try arena.residentBytes()
            expectInvariants(s)
            #expect(resident <= s.sys - s.heapReleasedDiscarded, "a page PAGEOUT missed is not counted as discarded: \(s), resident \(resident)")
            #expect(s.heapReleased == s.heapIdle)
            // Asserted in every run, not only when a residue shows: whatever PAGEOUT left resident is still
            // counted lazy (with no residue this holds with resident = 0, and the line above still checks discarded).
            #expect(s.heapReleasedLazy >= resident, "the missed pages stay lazy: \(s), resident \(resident)")
            if resident > 0 { sawResidue = true }
        }
        print("PAGEOUT from another CPU left resident pages: \(sawResidue)")
    }
}
