import MemProbeArena
import MemProbeSystem
import MemProbeTestSupport
import Testing

/// Huge-page mode must not strand memory: once everything is freed, `release()` gives back every idle byte, and the
/// books never count pages as released that the kernel faulted in with a huge page (mincore ≤ Sys − discarded).
///
/// The trap: an allocation cut from an untouched (released) run shares a 2 MiB unit with the rest of that run.
/// Writing the allocation faults in the whole huge page, so that rest is resident although never written; and once
/// the allocation is freed, a dirty run and a released run share the unit, each too small to release on its own.
@Suite struct HugePageAccountingTests {
    @Test(arguments: [ReleaseStrategy.dontNeed, .unmap, .lazyFree])
    func partlyUsedHugePageIsReleasedOnceIdle(_ strategy: ReleaseStrategy) throws {
        let arena = PageArena(strategy: .retain, configuration: .init(regionSize: 8 * MiB, hugePages: true))
        let p = try arena.allocate(byteCount: 3 * MiB)  // 1.5 huge pages
        touch(p, 3 * MiB)
        var s = arena.stats
        expectInvariants(s)
        try expectResidencyInvariant(arena)
        arena.deallocate(p, byteCount: 3 * MiB)
        try arena.release(using: strategy)
        s = arena.stats
        expectInvariants(s)
        try expectResidencyInvariant(arena)
        #expect(s.alloc == 0 && s.heapInuse == 0)
        switch strategy {
        case .unmap:
            #expect(s.sys == 0, "every idle byte unmapped: \(s)")
            #expect(try arena.residentBytes() == 0)
        case .lazyFree:
            #expect(s.heapReleased == s.heapIdle, "nothing left dirty: \(s)")
            #expect(s.heapReleasedLazy >= 4 * MiB, "both touched huge pages lazily freed: \(s)")
        default:
            #expect(s.heapReleased == s.heapIdle, "nothing left dirty: \(s)")
            #expect(try arena.residentBytes() == 0, "nothing resident after DONTNEED of the idle arena")
        }
    }

    @Test func smallBlocksInHugePageMode() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 8 * MiB, hugePages: true))
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<1000 { blocks.append(try arena.allocate(byteCount: 100)) }  // a few slab pages
        for b in blocks { b.storeBytes(of: 7, as: UInt8.self) }
        expectInvariants(arena.stats)
        try expectResidencyInvariant(arena)
        for b in blocks { arena.deallocate(b, byteCount: 100) }
        try arena.release()
        let s = arena.stats
        expectInvariants(s)
        try expectResidencyInvariant(arena)
        #expect(s.heapInuse == 0 && s.heapReleased == s.heapIdle, "\(s)")
        #expect(try arena.residentBytes() == 0)
    }

    /// Random sizes in huge-page mode: after freeing everything, `release(using: .unmap)` leaves nothing mapped.
    @Test func randomSizesLeaveNothingBehind() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 8 * MiB, hugePages: true))
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        var live: [(UnsafeMutableRawPointer, Int)] = []
        for step in 0..<600 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            if live.count < 40 && (x % 3 != 0 || live.isEmpty) {
                let size = x % 4 == 0 ? Int(x >> 8 % 3000) : Int((x >> 8) % UInt64(3 * MiB))
                let p = try arena.allocate(byteCount: size)
                if size > 0 { p.storeBytes(of: 1, toByteOffset: size - 1, as: UInt8.self) }
                live.append((p, size))
            } else {
                let (p, size) = live.remove(at: Int((x >> 20) % UInt64(live.count)))
                arena.deallocate(p, byteCount: size)
            }
            if step % 50 == 0 {
                expectInvariants(arena.stats)
                try expectResidencyInvariant(arena)
            }
        }
        for (p, size) in live { arena.deallocate(p, byteCount: size) }
        try arena.release(using: .unmap)
        let s = arena.stats
        #expect(s.sys == 0 && s.heapIdle == 0, "\(s)")
    }
}
