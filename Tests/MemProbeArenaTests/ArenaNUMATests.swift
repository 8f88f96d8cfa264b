import Foundation
import MemProbeArena
import MemProbeSystem
import Testing
import MemProbeTestSupport

/// An arena's NUMA policy and per-node residency, against the kernel: `/proc/self/numa_maps` shows the policy of
/// the arena's region, `move_pages` the node of each page, `mincore` the residency.
@Suite struct ArenaNUMATests {
    static let nodes = NUMA.nodes

    /// The kernel's policy name for the mapping that contains `address` (numa_maps' second column).
    static func kernelPolicy(at address: UInt) throws -> String? {
        let text = try ProcFile.read(pid: nil, "numa_maps")
        var best: (UInt, Substring)? = nil
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 2, let start = UInt(f[0], radix: 16), start <= address else { continue }
            if best == nil || start > best!.0 { best = (start, f[1]) }
        }
        return best.map { String($0.1) }
    }

    @Test(.enabled(if: NUMA.isAvailable, "NUMA unavailable: \(NUMA.unavailableReason?.description ?? "")"))
    func boundToNodeZeroPerNodeFiguresEqualResidency() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 16 * MiB, numaPolicy: .bind(node: 0)))
        let big = try arena.allocate(byteCount: 6 * MiB)
        touch(big, 6 * MiB)
        var small: [UnsafeMutableRawPointer] = []
        for _ in 0..<1000 { small.append(try arena.allocate(byteCount: 100)) }
        for p in small { p.storeBytes(of: 7, as: UInt8.self) }
        #expect(try Self.kernelPolicy(at: UInt(bitPattern: big)) == "bind:0")
        let byNode = try arena.residentBytesByNode()
        let resident = try arena.residentBytes()
        #expect(resident >= 6 * MiB)
        #expect(byNode == [0: resident], "per-node \(byNode) vs mincore \(resident)")
        arena.deallocate(big, byteCount: 6 * MiB)
        for p in small { arena.deallocate(p, byteCount: 100) }
        try arena.release()
        #expect(try arena.residentBytesByNode().values.reduce(0, +) == (try arena.residentBytes()))
        #expect(try arena.residentBytes() == 0)
    }

    @Test(.enabled(if: NUMA.isAvailable, "NUMA unavailable"))
    func preferredAndInterleaveReachEveryRegion() throws {
        for (policy, name) in [(NUMAPolicy.preferred(node: 0), "prefer:0"), (.interleave(nodes: [0]), "interleave:0")] {
            let arena = PageArena(strategy: .retain, configuration: .init(regionSize: 4 * MiB, numaPolicy: policy))
            // Three regions: two regular ones and a big request's own.
            let a = try arena.allocate(byteCount: 3 * MiB)
            let b = try arena.allocate(byteCount: 3 * MiB)
            let c = try arena.allocate(byteCount: 9 * MiB)
            for p in [a, b, c] {
                p.storeBytes(of: 1, as: UInt8.self)
                #expect(try Self.kernelPolicy(at: UInt(bitPattern: p)) == name, "\(policy)")
            }
            #expect(try arena.residentBytesByNode() == [0: try arena.residentBytes()])
        }
    }

    @Test(.enabled(if: NUMA.isAvailable, "NUMA unavailable"))
    func aNodeThatDoesNotExistFailsTheAllocationAndMapsNothing() throws {
        let max = try #require(NUMA.maxNode)
        let arena = PageArena(configuration: .init(numaPolicy: .bind(node: max + 1)))
        #expect(throws: ArenaError.numa(.noSuchNode(max + 1, maxNode: max))) { try arena.allocate(byteCount: 64) }
        let s = arena.stats
        expectInvariants(s)
        #expect(s.sys == 0 && s.alloc == 0, "\(s)")
        #expect(try arena.residentBytes() == 0, "the region was unmapped again")
        #expect(String(describing: ArenaError.numa(.noSuchNode(max + 1, maxNode: max))).contains("does not exist"))
    }

    @Test func defaultPolicyNeedsNoNUMA() throws {
        let arena = PageArena()
        let p = try arena.allocate(byteCount: MiB)
        touch(p, MiB)
        if NUMA.isAvailable {
            #expect(try Self.kernelPolicy(at: UInt(bitPattern: p)) == "default")
        }
        arena.deallocate(p, byteCount: MiB)
    }

    @Test(.enabled(if: nodes.count >= 2, "needs two NUMA nodes; this machine has \(nodes.count)"))
    func boundToTheSecondNodeEveryPageIsThere() throws {
        let node = Self.nodes[1]
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 8 * MiB, numaPolicy: .bind(node: node)))
        let p = try arena.allocate(byteCount: 4 * MiB)
        touch(p, 4 * MiB)
        #expect(try arena.residentBytesByNode() == [node: try arena.residentBytes()])
        arena.deallocate(p, byteCount: 4 * MiB)
    }
}
