import Foundation
import MemProbeArena
@testable import MemProbeProfile
import Testing
import MemProbeTestSupport

@inline(never)
func churnProfileTest(_ arena: PageArena, thread: Int, rounds: Int) -> Int {
    var rng = SystemRandomNumberGenerator()
    var held: [(UnsafeMutableRawPointer, Int)] = []
    var bytes = 0
    for _ in 0..<rounds {
        // Small blocks and page runs, as maps and users mix them.
        let size = Bool.random(using: &rng) ? Int.random(in: 1...2048, using: &rng) : Int.random(in: 4096...(192 << 10), using: &rng)
        let p = try! arena.allocate(byteCount: size)
        bytes += size
        held.append((p, size))
        if held.count > 64 {
            let i = Int.random(in: 0..<held.count, using: &rng)
            arena.deallocate(held[i].0, byteCount: held[i].1)
            held.swapAt(i, held.count - 1)
            held.removeLast()
        }
    }
    for (p, n) in held { arena.deallocate(p, byteCount: n) }
    return bytes
}

@Suite("Heap sampler under threads", .enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
struct SamplerConcurrencyTests {
    /// Eight threads allocate and free at the default rate while a ninth writes profiles: no deadlock with the
    /// arena lock, no race (TSan pass), every sample retired at the end, alloc_space within ±10 % of the truth.
    @Test func eightThreadsAtTheDefaultRate() throws {
        let arena = samplingArena(interval: HeapProfileRate.defaultInterval)
        let threads = 8, rounds = 6_000
        let done = DispatchGroup()
        // Each thread writes only its own slot.
        nonisolated(unsafe) let totals = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
        totals.initialize(repeating: 0)
        defer { totals.deallocate() }
        for t in 0..<threads {
            done.enter()
            let thread = Thread {
                totals[t] = churnProfileTest(arena, thread: t, rounds: rounds)
                done.leave()
            }
            thread.start()
        }
        var profiles = 0
        while done.wait(timeout: .now() + .milliseconds(20)) == .timedOut {
            _ = try HeapProfile.profile(of: [arena])
            profiles += 1
            #expect(profiles < 50 * 60 * 5, "threads did not finish in 5 minutes: deadlock?")
            if profiles >= 50 * 60 * 5 { return }
        }
        let truth = Double(totals.reduce(0, +))
        let p = try writeAndCheck(try HeapProfile.profile(of: [arena]), name: "threads", functions: ["churnProfileTest"])
        #expect(arena.heapSampler!.counters.liveSamples == 0)
        #expect(total(p, "inuse_space") == 0, "everything was freed")
        let estimate = Double(cumulative(p, "alloc_space", function: "churnProfileTest"))
        print("8 threads: \(Int(truth)) bytes allocated, estimate \(Int(estimate)), \(profiles) profiles written meanwhile")
        #expect(abs(estimate / truth - 1) < 0.10, "alloc_space \(estimate) vs \(truth)")
    }
}
