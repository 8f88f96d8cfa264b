import MemProbeArena
import MemProbeSystem
import MemProbeTestSupport
import Testing

/// `PageArena.populate`: what ArenaMap's `reserveCapacity` uses so the map never advises arena memory itself.
@Suite struct PopulateTests {
    /// MADV_POPULATE_WRITE exists since Linux 5.14: probed on one page of our own.
    static let kernelPopulates: Bool = {
        let page = VirtualMemory.pageSize
        guard let p = try? VirtualMemory.map(byteCount: page) else { return false }
        defer { try? VirtualMemory.unmap(p, byteCount: page) }
        return (try? VirtualMemory.advise(p, byteCount: page, .populateWrite)) != nil
    }()

    @Test(.enabled(if: kernelPopulates, "this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)"))
    func populateMakesTheWholePagesResidentAndIsCountedAsTheArenasAdvice() throws {
        let arena = PageArena(strategy: .dontNeed)
        let bytes = 4 * MiB
        let p = try arena.allocate(byteCount: bytes)
        defer { arena.deallocate(p, byteCount: bytes) }
        let before = arena.stats
        #expect(try arena.residentBytes() == 0, "a fresh run is not resident yet")
        arena.populate(p, byteCount: bytes)
        let after = arena.stats
        #expect(after.madviseCalls == before.madviseCalls + 1)
        #expect(after.madviseBytes - before.madviseBytes == bytes)
        #expect(try arena.residentBytes() == bytes, "mincore: every page of the run is resident")
        #expect(after.alloc == before.alloc && after.heapInuse == before.heapInuse, "populate changes no accounting")
    }

    @Test func populateLeavesSmallBlocksAlone() throws {
        let arena = PageArena(strategy: .dontNeed)
        let p = try arena.allocate(byteCount: 512)
        defer { arena.deallocate(p, byteCount: 512) }
        let before = arena.stats
        arena.populate(p, byteCount: 512)
        #expect(arena.stats.madviseCalls == before.madviseCalls, "a size-class block shares its page: never advised")
    }
}
