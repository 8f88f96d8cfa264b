import Foundation
import MemProbeArena
import Synchronization
import MemProbeTestSupport
import Testing

/// 8 threads allocate, write, verify and free while a 9th reads the published stats and checks the invariants.
@Suite struct ConcurrencyTests {
    @Test func eightThreadsAndAStatsReader() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: MiB, maxReleaseBytesPerCall: 256 * 1024))
        let done = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let threads = 8
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            Thread.detachNewThread {
                defer { done.add(1, ordering: .releasing); group.leave() }
                var rng = SystemRandomNumberGenerator()
                var mine: [(UnsafeMutableRawPointer, Int, UInt8)] = []
                for i in 0..<1500 {
                    if mine.count < 40 && (mine.isEmpty || Bool.random(using: &rng)) {
                        let size = Bool.random(using: &rng) ? Int.random(in: 0...2048, using: &rng) : Int.random(in: 2049...(6 * pageSize), using: &rng)
                        guard let p = try? arena.allocate(byteCount: size) else { failures.add(1, ordering: .relaxed); continue }
                        let tag = UInt8(truncatingIfNeeded: t &* 31 &+ i)
                        if size > 0 {
                            p.storeBytes(of: tag, as: UInt8.self)
                            p.storeBytes(of: tag, toByteOffset: size - 1, as: UInt8.self)
                        }
                        mine.append((p, size, tag))
                    } else {
                        let (p, size, tag) = mine.remove(at: Int.random(in: 0..<mine.count, using: &rng))
                        if size > 0 && (p.load(as: UInt8.self) != tag || p.load(fromByteOffset: size - 1, as: UInt8.self) != tag) {
                            failures.add(1, ordering: .relaxed)
                        }
                        arena.deallocate(p, byteCount: size)
                    }
                    if i % 500 == 250 { _ = try? arena.release() }
                }
                for (p, size, _) in mine { arena.deallocate(p, byteCount: size) }
            }
        }
        var reads = 0
        while done.load(ordering: .acquiring) < threads {
            let s = arena.stats
            reads += 1
            if !(s.alloc <= s.heapInuse && s.heapInuse + s.heapIdle == s.sys && s.heapReleased <= s.heapIdle) {
                failures.add(1, ordering: .relaxed)
                Issue.record("invariant broken in a concurrent read: \(s)")
            }
        }
        group.wait()
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(reads > 0)
        let s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == 0)
        try arena.release()
        #expect(arena.stats.heapInuse == 0)
        try expectResidencyInvariant(arena)
    }
}
