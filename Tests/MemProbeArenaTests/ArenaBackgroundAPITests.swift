#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import Testing
import MemProbeTestSupport

/// The API a background governor uses: live-arena registry, next deadline, bounded releaseIdle (checked with mincore).
@Suite struct ArenaBackgroundAPITests {
    @Test func registryListsLiveArenasOnly() {
        var arena: PageArena? = PageArena()
        arena!.label = "registry-test"
        let id = ObjectIdentifier(arena!)
        #expect(PageArena.liveArenas.contains { ObjectIdentifier($0.arena) == id && $0.label == "registry-test" })
        arena = nil
        #expect(!PageArena.liveArenas.contains { ObjectIdentifier($0.arena) == id })
        #expect(PageArena.shared.label == "shared")
    }

    @Test func nextDeadlineFollowsTheStrategy() throws {
        let decay = PageArena(strategy: .decay(delay: .milliseconds(300)))
        #expect(decay.nextDeadlineNanoseconds == nil)
        let p = try decay.allocate(byteCount: 1 << 20)
        let before = monotonicNanoseconds()
        decay.deallocate(p, byteCount: 1 << 20)
        let due = try #require(decay.nextDeadlineNanoseconds)
        #expect(due >= before + 300_000_000 && due <= monotonicNanoseconds() + 300_000_000)
        let retain = PageArena(strategy: .retain)
        let q = try retain.allocate(byteCount: 1 << 20)
        retain.deallocate(q, byteCount: 1 << 20)
        #expect(retain.nextDeadlineNanoseconds == nil)
    }

    @Test func releaseIdleIsBoundedAndForGood() throws {
        let arena = PageArena(strategy: .retain)
        let bytes = 16 << 20
        let p = try arena.allocate(byteCount: bytes)
        memset(p, 1, bytes)
        arena.deallocate(p, byteCount: bytes)
        let resident0 = try arena.residentBytes()
        #expect(resident0 >= bytes)
        #expect(arena.releasableBytes >= bytes)
        let first = try arena.releaseIdle(maxBytes: 4 << 20)
        #expect(first.releasedBytes == 4 << 20)
        #expect(resident0 - (try arena.residentBytes()) == 4 << 20)
        let rest = try arena.releaseIdle(maxBytes: Int.max)
        #expect(rest.releasedBytes >= bytes - (4 << 20))
        #expect(try arena.residentBytes() == 0)
        #expect(arena.stats.heapReleasedDiscarded == arena.stats.heapIdle)
        #expect(arena.strategy == .retain)
        #expect(try arena.releaseIdle(maxBytes: 1 << 20).releasedBytes == 0)
    }

    /// residentBytes probes outside the allocation lock; it stays exact while another thread maps and unmaps.
    @Test func residentBytesWhileAnotherThreadUnmaps() async throws {
        let arena = PageArena(strategy: .unmap, configuration: .init(regionSize: 1 << 20))
        let keep = try arena.allocate(byteCount: 2 << 20)
        memset(keep, 1, 2 << 20)
        defer { arena.deallocate(keep, byteCount: 2 << 20) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for _ in 0..<300 {
                    if let p = try? arena.allocate(byteCount: 3 << 20) { arena.deallocate(p, byteCount: 3 << 20) }
                }
            }
            group.addTask {
                for _ in 0..<300 {
                    let r = (try? arena.residentBytes()) ?? -1
                    #expect(r >= 2 << 20)
                }
            }
        }
    }
}
