import CShims
import Foundation
import MemProbeTestSupport
import Testing

@testable import MemProbeSystem

@Suite("NUMA", .enabled(if: NUMA.isAvailable, "NUMA is not available on this system"))
struct NUMATests {
    @Test func nodeZeroExistsAndMatchesSysfs() throws {
        let max = try #require(NUMA.maxNode)
        #expect(max >= 0)
        #expect(NUMA.nodes.contains(0))
        #expect(NUMA.nodeCount >= 1)
        let m = try NUMA.memory(ofNode: 0)
        #expect(m.size > 0 && m.free > 0 && m.free <= m.size)
        // Independent source: /sys/devices/system/node/node0/meminfo "Node 0 MemTotal: N kB".
        let text = try #require(readWholeFile("/sys/devices/system/node/node0/meminfo"))
        let line = try #require(text.split(separator: "\n").first(where: { $0.contains("MemTotal:") }))
        let kb = try #require(line.split(separator: " ").dropLast().last.flatMap({ Int($0) }))
        // Node memory can grow while memory is initialized lazily: compare loosely.
        #expect(abs(m.size - kb * 1024) <= 64 << 20)
        #expect(throws: NUMAError.noSuchNode(max + 1, maxNode: max)) { try NUMA.memory(ofNode: max + 1) }
        #expect(throws: NUMAError.noSuchNode(-1, maxNode: max)) { try NUMA.memory(ofNode: -1) }
    }

    @Test func pageNodesOfTouchedAndUntouchedPages() throws {
        let pageSize = VirtualMemory.pageSize
        let pages = 64
        let p = try VirtualMemory.map(byteCount: pages * pageSize)
        defer { try? VirtualMemory.unmap(p, byteCount: pages * pageSize) }
        // Write the first half (a read would map the shared zero page).
        for i in 0..<(pages / 2) { p.storeBytes(of: 1, toByteOffset: i * pageSize, as: UInt8.self) }
        let nodes = try NUMA.pageNodes(of: UnsafeRawBufferPointer(start: p, count: pages * pageSize))
        #expect(nodes.count == pages)
        let nodeSet = Set(NUMA.nodes)
        for (i, n) in nodes.enumerated() {
            if i < pages / 2 {
                guard case .node(let node) = n else {
                    Issue.record("page \(i) touched but \(n)")
                    continue
                }
                #expect(nodeSet.contains(node))
                if nodeSet == [0] { #expect(node == 0) }
            } else {
                #expect(n == .notPopulated, "page \(i)")
            }
        }
        // A sub-page range rounds out to its page.
        #expect(try NUMA.pageNodes(of: UnsafeRawBufferPointer(start: p + 10, count: 1)).count == 1)
    }

    @Test func bindToNodeZeroThenTouch() throws {
        let pageSize = VirtualMemory.pageSize
        let len = 16 * pageSize
        let p = try VirtualMemory.map(byteCount: len)
        defer { try? VirtualMemory.unmap(p, byteCount: len) }
        let range = UnsafeMutableRawBufferPointer(start: p, count: len)
        try NUMA.bind(range, toNode: 0)
        range.initializeMemory(as: UInt8.self, repeating: 7)
        let nodes = try NUMA.pageNodes(of: UnsafeRawBufferPointer(range))
        #expect(nodes.allSatisfy { $0 == .node(0) })
    }

    @Test func bindToAbsentNodeIsTyped() throws {
        let max = try #require(NUMA.maxNode)
        let pageSize = VirtualMemory.pageSize
        let p = try VirtualMemory.map(byteCount: pageSize)
        defer { try? VirtualMemory.unmap(p, byteCount: pageSize) }
        let range = UnsafeMutableRawBufferPointer(start: p, count: pageSize)
        // The kernel answers (EINVAL here): the error names the node.
        #expect(throws: NUMAError.noSuchNode(max + 1, maxNode: max)) { try NUMA.bind(range, toNode: max + 1) }
        #expect(throws: NUMAError.noSuchNode(-3, maxNode: max)) { try NUMA.bind(range, toNode: -3) }
        #expect(throws: NUMAError.noSuchNode(1 << 20, maxNode: max)) { try NUMA.bind(range, toNode: 1 << 20) }
        let unaligned = UnsafeMutableRawBufferPointer(start: p + 1, count: 10)
        #expect(throws: NUMAError.unalignedRange(address: UInt(bitPattern: p + 1), pageSize: pageSize)) {
            try NUMA.bind(unaligned, toNode: 0)
        }
        #expect(String(describing: NUMAError.noSuchNode(max + 1, maxNode: max)).contains("does not exist"))
    }

    @Test(.enabled(if: TestEnvironment.numaNodes >= 2, "cross-node binding needs 2 NUMA nodes; this machine has \(TestEnvironment.numaNodes)"))
    func bindAcrossTwoNodes() throws {
        let nodes = NUMA.nodes
        let pageSize = VirtualMemory.pageSize
        let len = 8 * pageSize
        let p = try VirtualMemory.map(byteCount: len)
        defer { try? VirtualMemory.unmap(p, byteCount: len) }
        let range = UnsafeMutableRawBufferPointer(start: p, count: len)
        try NUMA.bind(range, toNode: nodes[1])
        range.initializeMemory(as: UInt8.self, repeating: 1)
        #expect(try NUMA.pageNodes(of: UnsafeRawBufferPointer(range)).allSatisfy { $0 == .node(nodes[1]) })
    }
}
