import MemProbeArena
@testable import MemProbeSystem
import SystemPackage
import MemProbeTestSupport
import Testing

/// Errno injection through `SyscallMock` (debug builds): typed errors, and the arena stays consistent and usable.
@Suite struct FaultInjectionTests {
    @Test func mmapENOMEMIsOutOfMemoryAndLeavesTheArenaUsable() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 4 * MiB))
        let keep = try arena.allocate(byteCount: 3 * MiB)  // fills most of region 1
        let before = arena.stats
        let mock = SyscallMock()
        mock.fail(.mmap, with: .noMemory, count: 2)  // the region, then the request-sized fallback
        SyscallMock.$current.withValue(mock) {
            #expect {
                _ = try arena.allocate(byteCount: 2 * MiB)
            } throws: { error in
                guard case ArenaError.outOfMemory(let requested, .outOfAddressSpace) = error else { return false }
                return requested == 2 * MiB
            }
        }
        #expect(mock.injected(.mmap) == 2)
        #expect(arena.stats == before, "a failed grow changes nothing")
        // One failure only: the request-sized fallback mapping succeeds (what RLIMIT_AS near its edge needs).
        mock.fail(.mmap, with: .noMemory, count: 1)
        let p = try SyscallMock.$current.withValue(mock) { () throws(ArenaError) -> UnsafeMutableRawPointer in
            try arena.allocate(byteCount: 2 * MiB)
        }
        #expect(arena.stats.sys == before.sys + 2 * MiB)
        touch(p, 2 * MiB)
        arena.deallocate(p, byteCount: 2 * MiB)
        arena.deallocate(keep, byteCount: 3 * MiB)
        try arena.release()
        expectInvariants(arena.stats)
        #expect(arena.stats.alloc == 0 && arena.stats.heapInuse == 0)
    }

    @Test func madviseEINVALInReleaseIsUnsupportedAdviceAndTheRunStaysDirty() throws {
        let arena = PageArena(strategy: .retain)
        let p = try arena.allocate(byteCount: MiB)
        touch(p, MiB, value: 7)
        arena.deallocate(p, byteCount: MiB)
        let before = arena.stats
        let mock = SyscallMock()
        mock.fail(.madvise, with: .invalidArgument)
        SyscallMock.$current.withValue(mock) {
            #expect(throws: ArenaError.unsupportedAdvice(.free)) { try arena.release(using: .lazyFree) }
        }
        var s = arena.stats
        #expect(s.heapReleased == before.heapReleased && s.heapIdle == before.heapIdle, "still dirty: \(s)")
        #expect(s.madviseCalls == before.madviseCalls + 1 && s.madviseBytes == before.madviseBytes)
        expectInvariants(s)
        #expect(p.load(fromByteOffset: 4096, as: UInt8.self) == 7, "a dirty run keeps its contents")
        // The next release works.
        let r = try arena.release(using: .dontNeed)
        #expect(r.releasedBytes == MiB)
        s = arena.stats
        #expect(s.heapReleased == s.heapIdle)
    }

    @Test func madviseEINVALDuringFreePausesAutomaticRelease() throws {
        let arena = PageArena(strategy: .dontNeed)
        let a = try arena.allocate(byteCount: 64 * 1024)
        let b = try arena.allocate(byteCount: 64 * 1024)
        let mock = SyscallMock()
        mock.fail(.madvise, with: .invalidArgument, count: Int.max)
        SyscallMock.$current.withValue(mock) {
            arena.deallocate(a, byteCount: 64 * 1024)  // release attempt fails: run stays dirty, no crash
            arena.deallocate(b, byteCount: 64 * 1024)  // paused: no second attempt
        }
        #expect(mock.injected(.madvise) == 1)
        #expect(arena.lastDeferredError == .unsupportedAdvice(.dontNeed))
        var s = arena.stats
        #expect(s.heapIdle - s.heapReleased == 128 * 1024, "\(s)")
        expectInvariants(s)
        try arena.release()
        s = arena.stats
        #expect(s.heapIdle == s.heapReleased)
    }

    @Test func munmapFailureUnderUnmapKeepsTheRun() throws {
        let arena = PageArena(strategy: .retain, configuration: .init(regionSize: MiB))
        let p = try arena.allocate(byteCount: MiB)
        arena.deallocate(p, byteCount: MiB)
        let before = arena.stats
        let mock = SyscallMock()
        mock.fail(.munmap, with: .noMemory)  // e.g. vm.max_map_count reached when splitting a mapping
        SyscallMock.$current.withValue(mock) {
            // A failed munmap is a failed system call, not an allocation that ran out of memory.
            let error = #expect(throws: ArenaError.self) { try arena.release(using: .unmap) }
            guard case .systemCallFailed(.system(let call)) = error else {
                Issue.record("expected systemCallFailed(munmap), got \(String(describing: error))")
                return
            }
            #expect(call.call.contains("munmap") && call.errno == .noMemory, "\(call)")
        }
        #expect(arena.stats.sys == before.sys && arena.stats.heapIdle == before.heapIdle)
        try arena.release(using: .unmap)
        #expect(arena.stats.sys == 0)
        expectInvariants(arena.stats)
    }
}
