import MemProbeArena
import MemProbeSystem
import MemProbeTestSupport
import Testing

@Suite struct PageArenaTests {
    @Test func smallBlocksShareAPageAndComeBack() throws {
        let arena = PageArena(strategy: .retain)
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<200 { blocks.append(try arena.allocate(byteCount: 20)) }  // class 32
        let s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == 200 * 20)
        #expect(s.heapInuse == 2 * pageSize, "200 blocks of 32 B fit in two 4 KiB pages")
        #expect(Set(blocks).count == 200)
        for b in blocks { #expect(Int(bitPattern: b) % 16 == 0) }
        for (i, b) in blocks.enumerated() { b.storeBytes(of: UInt64(i), as: UInt64.self) }
        for (i, b) in blocks.enumerated() { #expect(b.load(as: UInt64.self) == UInt64(i)) }
        for b in blocks { arena.deallocate(b, byteCount: 20) }
        let after = arena.stats
        expectInvariants(after)
        #expect(after.alloc == 0)
        #expect(after.heapInuse == pageSize, "one spare page per size class stays")
        try arena.release(using: .dontNeed)
        #expect(arena.stats.heapInuse == 0, "release() returns the spare page too")
    }

    @Test func reservedSizes() {
        let arena = PageArena()
        #expect(arena.reservedSize(forByteCount: 0) == 16)
        #expect(arena.reservedSize(forByteCount: 1) == 16)
        #expect(arena.reservedSize(forByteCount: 17) == 32)
        #expect(arena.reservedSize(forByteCount: 129) == 160)
        #expect(arena.reservedSize(forByteCount: 2048) == 2048)
        #expect(arena.reservedSize(forByteCount: 2049) == pageSize)
        #expect(arena.reservedSize(forByteCount: 3 * pageSize + 1) == 4 * pageSize)
    }

    @Test func alignmentUpToThePageSize() throws {
        let arena = PageArena(strategy: .retain)
        var alignment = 1
        while alignment <= pageSize {
            for size in [1, 24, 100, 700, 3000, 5000] {
                let p = try arena.allocate(byteCount: size, alignment: alignment)
                #expect(Int(bitPattern: p) % alignment == 0, "size \(size) alignment \(alignment)")
                p.storeBytes(of: 0xAB, toByteOffset: size - 1, as: UInt8.self)
                arena.deallocate(p, byteCount: size)
            }
            alignment <<= 1
        }
        #expect(arena.stats.alloc == 0)
        expectInvariants(arena.stats)
        #expect(throws: ArenaError.invalidAlignment(3)) { _ = try arena.allocate(byteCount: 8, alignment: 3) }
        #expect(throws: ArenaError.invalidAlignment(2 * pageSize)) { _ = try arena.allocate(byteCount: 8, alignment: 2 * pageSize) }
        #expect(throws: ArenaError.invalidSize(-1)) { _ = try arena.allocate(byteCount: -1) }
        #expect(throws: ArenaError.invalidSize(Int.max)) { _ = try arena.allocate(byteCount: Int.max) }
    }

    @Test func zeroByteAllocationsAreDistinct() throws {
        let arena = PageArena(strategy: .retain)
        let a = try arena.allocate(byteCount: 0), b = try arena.allocate(byteCount: 0)
        #expect(a != b)
        #expect(arena.stats.alloc == 0)
        arena.deallocate(a, byteCount: 0)
        arena.deallocate(b, byteCount: 0)
    }

    @Test func regionsGrowAndBigRequestsGetTheirOwn() throws {
        let arena = PageArena(strategy: .retain, configuration: .init(regionSize: 1 * MiB))
        let a = try arena.allocate(byteCount: 600 << 10)
        let b = try arena.allocate(byteCount: 600 << 10)  // does not fit the first region's rest
        var s = arena.stats
        #expect(s.mmapCalls == 2 && s.sys == 2 * MiB)
        let big = try arena.allocate(byteCount: 5 * MiB + 1)
        s = arena.stats
        #expect(s.mmapCalls == 3 && s.sys == 2 * MiB + 5 * MiB + pageSize)
        expectInvariants(s)
        touch(big, 5 * MiB)
        arena.deallocate(a, byteCount: 600 << 10)
        arena.deallocate(b, byteCount: 600 << 10)
        arena.deallocate(big, byteCount: 5 * MiB + 1)
        s = arena.stats
        #expect(s.alloc == 0 && s.heapInuse == 0 && s.heapIdle == s.sys)
        try arena.release(using: .unmap)
        s = arena.stats
        #expect(s.sys == 0 && s.heapIdle == 0, "unmap gives every idle byte back: \(s)")
        expectInvariants(s)
        // Still usable after everything was unmapped.
        let c = try arena.allocate(byteCount: 10_000)
        touch(c, 10_000)
        arena.deallocate(c, byteCount: 10_000)
    }

    /// Free every other run: neighbours coalesce only when both are free and in the same state,
    /// and reuse takes dirty runs before lazy, released and new space.
    @Test func fragmentationCoalescingAndReuseOrder() throws {
        let arena = PageArena(strategy: .retain, configuration: .init(regionSize: 64 * pageSize))
        var runs: [UnsafeMutableRawPointer] = []
        for _ in 0..<16 { runs.append(try arena.allocate(byteCount: 4 * pageSize)) }  // 64 pages: one whole region
        #expect(arena.stats.heapIdle == 0)
        for i in stride(from: 0, to: 16, by: 2) { arena.deallocate(runs[i], byteCount: 4 * pageSize) }
        var s = arena.stats
        #expect(s.heapIdle == 32 * pageSize && s.heapReleased == 0)
        // A request for 8 pages does not fit any 4-page hole: new space.
        let eight = try arena.allocate(byteCount: 8 * pageSize)
        #expect(arena.stats.mmapCalls == 2)
        arena.deallocate(eight, byteCount: 8 * pageSize)
        // Free run 1: runs 0,1,2 coalesce into a 12-page hole, which a 12-page request then takes exactly.
        arena.deallocate(runs[1], byteCount: 4 * pageSize)
        let twelve = try arena.allocate(byteCount: 12 * pageSize)
        // Runs are cut from the high end of a free run, so runs[2] has the lowest address of the three.
        #expect(twelve == runs[0...2].min(), "the coalesced hole 0…2 is reused")
        #expect(arena.stats.mmapCalls == 2)
        // Released runs: release everything idle, then dirty a hole again; reuse must take the dirty one.
        try arena.release(using: .dontNeed)
        s = arena.stats
        #expect(s.heapReleasedDiscarded == s.heapIdle && s.heapReleasedLazy == 0)
        arena.deallocate(runs[7], byteCount: 4 * pageSize)  // dirty, next to released run 6 and 8: no merge
        let reuse = try arena.allocate(byteCount: 4 * pageSize)
        #expect(reuse == runs[7], "dirty before released")
        // Lazy before released.
        arena.deallocate(runs[9], byteCount: 4 * pageSize)
        try arena.release(using: .lazyFree)  // only dirty run 9 turns lazy
        s = arena.stats
        #expect(s.heapReleasedLazy == 4 * pageSize)
        let lazyReuse = try arena.allocate(byteCount: 2 * pageSize)
        #expect(lazyReuse >= runs[9] && lazyReuse < runs[9] + 4 * pageSize, "lazy before released")
        #expect(arena.stats.heapReleasedLazy == 2 * pageSize)
        expectInvariants(arena.stats)
        try expectResidencyInvariant(arena)
    }

    @Test func releaseStatesAndAccounting() throws {
        let arena = PageArena(strategy: .retain, configuration: .init(regionSize: 4 * MiB))
        let p = try arena.allocate(byteCount: 2 * MiB)
        touch(p, 2 * MiB)
        let resident0 = try arena.residentBytes()
        #expect(resident0 >= 2 * MiB)
        arena.deallocate(p, byteCount: 2 * MiB)
        var r = try arena.release(using: .lazyFree)
        #expect(r.releasedBytes == 2 * MiB && r.strategy == "lazyFree" && r.madviseCalls == 1)
        #expect(arena.stats.heapReleasedLazy == 2 * MiB)
        #expect(try arena.residentBytes() >= 2 * MiB - 64 * 1024, "mincore counts lazily freed pages as resident")
        r = try arena.release(using: .dontNeed)
        #expect(r.releasedBytes == 2 * MiB)
        var s = arena.stats
        #expect(s.heapReleasedLazy == 0 && s.heapReleasedDiscarded == s.heapIdle)
        #expect(try arena.residentBytes() == 0)
        r = try arena.release(using: .dontNeed)
        #expect(r.releasedBytes == 0 && r.madviseCalls == 0, "nothing dirty left")
        r = try arena.release()
        #expect(r.releasedBytes == 0 && r.strategy == "retain")
        s = arena.stats
        expectInvariants(s)
    }

    @Test func strategyCanChangeAtRunTime() throws {
        let arena = PageArena(strategy: .retain)
        #expect(arena.strategy == .retain)
        let p = try arena.allocate(byteCount: MiB)
        touch(p, MiB)
        arena.deallocate(p, byteCount: MiB)
        #expect(arena.stats.heapReleased == arena.stats.heapIdle - MiB, "retain keeps the run dirty")
        arena.setStrategy(.dontNeed)
        #expect(arena.strategy == .dontNeed)
        try arena.performDeferredWork()
        #expect(arena.stats.heapReleased == arena.stats.heapIdle, "the dirty run is released after the switch")
    }

    @Test func boundedWorkPerFree() throws {
        var configuration = PageArena.Configuration(regionSize: 32 * MiB, maxReleaseBytesPerCall: 4 * MiB)
        configuration.backgroundRelease = false  // the per-call bound alone (BackgroundDrainTests: with the drainer)
        let arena = PageArena(strategy: .dontNeed, configuration: configuration)
        let p = try arena.allocate(byteCount: 24 * MiB)
        touch(p, 24 * MiB)
        arena.deallocate(p, byteCount: 24 * MiB)
        var s = arena.stats
        #expect(s.heapIdle - s.heapReleased == 20 * MiB, "one free releases at most 4 MiB: \(s)")
        // Each later arena call continues with the next 4 MiB.
        let q = try arena.allocate(byteCount: 100)
        arena.deallocate(q, byteCount: 100)
        s = arena.stats
        #expect(s.heapIdle - s.heapReleased <= 12 * MiB + pageSize, "\(s)")
        let r = try arena.performDeferredWork()
        s = arena.stats
        #expect(r.releasedBytes >= 12 * MiB - pageSize)
        #expect(s.heapIdle - s.heapReleased <= pageSize, "\(s)")
        #expect(try arena.residentBytes() <= 2 * pageSize)
    }

    /// The bound is on cost, not bytes: MADV_FREE of whole huge pages is ~100× cheaper per byte than DONTNEED of
    /// 4 KiB pages, so one free in huge-page mode may lazily free 64× the bytes.
    @Test func boundIsACostBoundInHugePageMode() throws {
        var configuration = PageArena.Configuration(regionSize: 128 * MiB, hugePages: true)
        configuration.backgroundRelease = false  // the per-call bound alone
        let lazy = PageArena(strategy: .lazyFree, configuration: configuration)
        let p = try lazy.allocate(byteCount: 128 * MiB)
        lazy.deallocate(p, byteCount: 128 * MiB)
        #expect(lazy.stats.heapReleasedLazy == 128 * MiB, "one call: 128 MiB ≤ 4 MiB × 64")
        let dn = PageArena(strategy: .dontNeed, configuration: configuration)
        let q = try dn.allocate(byteCount: 128 * MiB)
        dn.deallocate(q, byteCount: 128 * MiB)
        let s = dn.stats
        #expect(s.heapIdle - s.heapReleased == 64 * MiB, "DONTNEED of huge pages: 4 MiB × 16 per call: \(s)")
        try dn.performDeferredWork()
        #expect(dn.stats.heapIdle == dn.stats.heapReleased)
    }

    @Test func decayReleasesAfterTheDelay() async throws {
        let arena = PageArena(strategy: .decay(delay: .milliseconds(150)))
        let p = try arena.allocate(byteCount: 4 * MiB)
        touch(p, 4 * MiB)
        arena.deallocate(p, byteCount: 4 * MiB)
        try arena.performDeferredWork()
        var s = arena.stats
        #expect(s.heapIdle - s.heapReleased == 4 * MiB, "not yet: \(s)")
        try await Task.sleep(for: .milliseconds(200))
        let r = try arena.performDeferredWork()
        s = arena.stats
        #expect(r.releasedBytes == 4 * MiB && s.heapIdle == s.heapReleasedDiscarded, "\(s)")
    }

    @Test func hugePageModeReleasesWholeHugePages() throws {
        let arena = PageArena(strategy: .retain, configuration: .init(regionSize: 8 * MiB, hugePages: true))
        let a = try arena.allocate(byteCount: 3 * MiB)
        // The region is 2 MiB aligned; `a` is cut from its high end: [5 MiB, 8 MiB), `b` then takes [4, 5).
        #expect((UInt(bitPattern: a) + UInt(3 * MiB)) % UInt(VirtualMemory.hugePageSize) == 0, "regions are 2 MiB aligned")
        let b = try arena.allocate(byteCount: MiB)
        touch(a, 3 * MiB)
        touch(b, MiB)
        arena.deallocate(a, byteCount: 3 * MiB)  // [5, 8 MiB) free; [4, 5) in use
        let r = try arena.release(using: .dontNeed)
        // Only [6, 8 MiB) is a whole huge page; [5, 6 MiB) shares one with the live block and stays dirty.
        // [0, 4 MiB) was never touched: released already.
        #expect(r.releasedBytes == 2 * MiB, "\(r)")
        let s = arena.stats
        #expect(s.heapIdle - s.heapReleased == MiB)
        expectInvariants(s)
        arena.deallocate(b, byteCount: MiB)
        #expect(try arena.release(using: .dontNeed).releasedBytes == 2 * MiB)
        #expect(arena.stats.heapReleased == arena.stats.heapIdle)
    }
}

@Suite("PageArena zeroed allocation")
struct ZeroedAllocationTests {
    @Test("zeroed memory reads zero after dirty reuse; large runs are discarded (counted), small ones written")
    func zeroedAfterReuse() throws {
        let arena = PageArena(strategy: .retain, configuration: .init(regionSize: 8 * MiB))
        let size = 2 * MiB
        let p = try arena.allocate(byteCount: size)
        p.initializeMemory(as: UInt8.self, repeating: 0xAB, count: size)
        arena.deallocate(p, byteCount: size)  // retain: the run stays dirty, full of 0xAB
        let before = arena.stats
        let z = try arena.allocateZeroed(byteCount: size)
        #expect(z == p, "the dirty run is reused")
        let bytes = UnsafeRawBufferPointer(start: z, count: size)
        #expect(bytes.allSatisfy { $0 == 0 })
        let s = arena.stats
        #expect(s.zeroedAllocations == before.zeroedAllocations + 1 && s.zeroedBytes == before.zeroedBytes + size)
        #expect(s.zeroedByDiscardBytes - before.zeroedByDiscardBytes == size, "whole pages discarded, not written")
        #expect(s.madviseCalls == before.madviseCalls + 1)
        expectInvariants(s)
        // Independent check: the discarded pages left RSS (mincore), they are not resident until touched.
        let start = UInt(bitPattern: z)
        #expect((smapsFields(overlapping: start, start + UInt(size))["Rss"] ?? 0) <= size / 2)
        arena.deallocate(z, byteCount: size)
        let small = try arena.allocate(byteCount: 100)
        small.initializeMemory(as: UInt8.self, repeating: 0xCD, count: 100)
        arena.deallocate(small, byteCount: 100)
        let z2 = try arena.allocateZeroed(byteCount: 100)
        #expect(UnsafeRawBufferPointer(start: z2, count: 100).allSatisfy { $0 == 0 })
        #expect(arena.stats.zeroedByDiscardBytes == s.zeroedByDiscardBytes, "small: written, not discarded")
        arena.deallocate(z2, byteCount: 100)
    }

    @Test("a huge-page arena discards only whole huge pages", .enabled(if: TestEnvironment.transparentHugePages, "THP off"))
    func hugePageSafe() throws {
        let huge = VirtualMemory.hugePageSize
        let arena = PageArena(strategy: .retain, configuration: .init(regionSize: 8 * huge, hugePages: true))
        let size = huge + 3 * VirtualMemory.pageSize
        let z = try arena.allocateZeroed(byteCount: size)
        #expect(UnsafeRawBufferPointer(start: z, count: size).allSatisfy { $0 == 0 })
        #expect(arena.stats.zeroedByDiscardBytes % huge == 0)
        arena.deallocate(z, byteCount: size)
    }

    @Test("StatsPublisher publishes every ArenaStats field (one list: the struct)")
    func publisherCoversEveryField() throws {
        #expect(MemoryLayout<ArenaStats>.size == ArenaStats.fields.count * MemoryLayout<Int>.stride)
        let offsets = ArenaStats.fields.map { MemoryLayout<ArenaStats>.offset(of: $0) }
        #expect(Set(offsets).count == offsets.count)
        let arena = PageArena(strategy: .dontNeed)
        let z = try arena.allocateZeroed(byteCount: 1 << 20)
        arena.deallocate(z, byteCount: 1 << 20)
        // Every figure the arena changed is visible through the lock-free snapshot.
        let s = arena.stats
        #expect(s.zeroedAllocations == 1 && s.zeroedBytes == 1 << 20 && s.mmapCalls >= 1 && s.alloc == 0)
    }
}
