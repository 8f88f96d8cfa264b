import CShims
import Foundation
import Testing

@testable import MemProbeSystem
import MemProbeTestSupport

/// NUMA policies applied with mbind, checked against the kernel's own view (`/proc/self/numa_maps` names each
/// mapping's policy and counts its pages per node), and libnuma loaded at run time.
@Suite("NUMA policy and numa_maps")
struct NUMAPolicyTests {
    static let nodes = NUMA.nodes

    /// The numa_maps line of the mapping that starts at `address`.
    static func numaMapsLine(_ address: UnsafeMutableRawPointer) throws -> Substring? {
        let text = try ProcFile.read(pid: nil, "numa_maps")
        let prefix = String(UInt(bitPattern: address), radix: 16) + " "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }
    }

    @Test func libnumaIsLoadedAtRunTimeNotLinked() throws {
        // The test binary (which links every memprobe library) does not list libnuma among its needed libraries.
        // popen, not Foundation.Process (whose internals LeakSanitizer reports in the ASan pass).
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let pipe = try #require(popen("/usr/bin/ldd '\(exe)'", "r"))
        var out = ""
        var buf = [CChar](repeating: 0, count: 4096)
        while fgets(&buf, Int32(buf.count), pipe) != nil {
            out += String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        #expect(pclose(pipe) == 0)
        #expect(out.contains("libc.so"), "ldd listed the libraries: \(out.prefix(200))")
        #expect(!out.contains("libnuma"), "libnuma must not be linked: \(out)")
    }

    @Test func aMissingLibnumaGivesAClearMessage() {
        let e = NUMA.probeLibrary("libnuma-memprobe-test-missing.so.1")
        guard case .libnumaMissing(let reason)? = e else {
            Issue.record("expected libnumaMissing, got \(String(describing: e))")
            return
        }
        #expect(reason.contains("libnuma-memprobe-test-missing.so.1"))
        let text = String(describing: e!)
        #expect(text.contains("libnuma.so.1 could not be loaded") && text.contains("apt-get install libnuma1"))
        #expect(NUMA.probeLibrary("libnuma.so.1") == nil, "the installed libnuma loads")
    }

    @Test(.enabled(if: NUMA.isAvailable, "NUMA unavailable: \(NUMA.unavailableReason?.description ?? "")"))
    func eachPolicyShowsInNumaMapsAndPagesLandOnTheNode() throws {
        let pageSize = VirtualMemory.pageSize
        let bytes = 256 * pageSize
        let policies: [(NUMAPolicy, String)] = [(.bind(node: 0), "bind:0"), (.preferred(node: 0), "prefer:0"),
                                               (.interleave(nodes: [0]), "interleave:0")]
        for (policy, kernelName) in policies {
            let p = try VirtualMemory.map(byteCount: bytes)
            defer { try? VirtualMemory.unmap(p, byteCount: bytes) }
            // NOHUGEPAGE gives the range a VMA of its own (adjacent anonymous mappings merge otherwise).
            try VirtualMemory.advise(p, byteCount: bytes, .noHugePage)
            try NUMA.apply(policy, to: UnsafeMutableRawBufferPointer(start: p, count: bytes))
            for off in stride(from: 0, to: bytes / 2, by: pageSize) { p.storeBytes(of: 1, toByteOffset: off, as: UInt8.self) }
            let line = try #require(try Self.numaMapsLine(p), "no numa_maps line for the range")
            #expect(line.split(separator: " ")[1] == Substring(kernelName), "\(policy): \(line)")
            let parsed = try NUMAMaps(parsing: String(line))
            #expect(parsed.bytesByNode == [0: bytes / 2], "\(policy): \(line)")
            #expect(try NUMA.residentBytesByNode(of: UnsafeRawBufferPointer(start: p, count: bytes)) == [0: bytes / 2])
            #expect(try VirtualMemory.residentBytes(p, byteCount: bytes) == bytes / 2)
        }
    }

    @Test(.enabled(if: NUMA.isAvailable, "NUMA unavailable"))
    func noSuchNodeAndBadRanges() throws {
        let pageSize = VirtualMemory.pageSize
        let max = try #require(NUMA.maxNode)
        let p = try VirtualMemory.map(byteCount: 4 * pageSize)
        defer { try? VirtualMemory.unmap(p, byteCount: 4 * pageSize) }
        let range = UnsafeMutableRawBufferPointer(start: p, count: 4 * pageSize)
        #expect(throws: NUMAError.noSuchNode(max + 1, maxNode: max)) { try NUMA.apply(.preferred(node: max + 1), to: range) }
        #expect(throws: NUMAError.noSuchNode(max + 1, maxNode: max)) { try NUMA.apply(.interleave(nodes: [0, max + 1]), to: range) }
        #expect(throws: NUMAError.noSuchNode(-1, maxNode: max)) { try NUMA.apply(.interleave(nodes: []), to: range) }
        #expect(throws: NUMAError.noSuchNode(-2, maxNode: max)) { try NUMA.apply(.bind(node: -2), to: range) }
        let unaligned = UnsafeMutableRawBufferPointer(start: p + 8, count: pageSize)
        #expect(throws: NUMAError.unalignedRange(address: UInt(bitPattern: p + 8), pageSize: pageSize)) {
            try NUMA.apply(.bind(node: 0), to: unaligned)
        }
        try NUMA.apply(.none, to: range)  // back to the default policy
        let line = try #require(try Self.numaMapsLine(p))
        #expect(line.split(separator: " ")[1] == "default")
    }

    @Test func numaMapsParsing() throws {
        let text = """
            55d0c0a00000 default file=/usr/bin/x mapped=20 mapmax=2 N0=20 kernelpagesize_kB=4
            7f0000000000 bind:0 anon=512 dirty=512 active=0 N0=500 N1=12 kernelpagesize_kB=4
            7f1000000000 default file=/dev/hugepages/x huge anon=2 dirty=2 N1=2 kernelpagesize_kB=2048
            7ffd00000000 default stack anon=3 dirty=3 N0=3 kernelpagesize_kB=4
            7ffe00000000 default
            """
        let m = try NUMAMaps(parsing: text)
        #expect(m.bytesByNode == [0: (20 + 500 + 3) * 4096, 1: 12 * 4096 + 2 * 2048 * 1024])
        #expect(m.anonymousBytesByNode == [0: (500 + 3) * 4096, 1: 12 * 4096 + 2 * 2048 * 1024])
        #expect(m.nodes.map(\.node) == [0, 1])
        #expect(throws: ProcFileError.self) { try NUMAMaps(parsing: "7f00 default N0=x kernelpagesize_kB=4") }
        #expect(throws: ProcFileError.self) { try NUMAMaps(parsing: "7f00 default N0=1 kernelpagesize_kB=-4") }
        #expect(throws: ProcFileError.self) { try NUMAMaps(parsing: "7f00 default N0=\(Int.max) kernelpagesize_kB=4") }
        #expect(try NUMAMaps(parsing: "").bytesByNode.isEmpty)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/numa_maps"), "kernel without NUMA: no numa_maps"))
    func ownNumaMapsAgreesWithRss() throws {
        let m = try NUMAMaps.read(pid: nil)
        let rss = try #require(try SmapsRollup.read(pid: nil).rss)
        // numa_maps counts every mapped page per node (shared pages too): close to Rss, which other tests move.
        #expect(m.totalBytes > 0)
        #expect(abs(m.totalBytes - rss) <= rss / 4 + (32 << 20), "numa_maps \(m.totalBytes) vs Rss \(rss)")
        if NUMA.nodeCount == 1 { #expect(Set(m.bytesByNode.keys) == [NUMA.nodes[0]]) }
        #expect(throws: ProcFileError.self) { try NUMAMaps.read(pid: 999_999_999) }
    }

    @Test(.enabled(if: nodes.count >= 2, "needs two NUMA nodes; this machine has \(nodes.count)"))
    func interleaveSpreadsPagesOverTwoNodes() throws {
        let pageSize = VirtualMemory.pageSize
        let bytes = 512 * pageSize
        let (a, b) = (Self.nodes[0], Self.nodes[1])
        let p = try VirtualMemory.map(byteCount: bytes)
        defer { try? VirtualMemory.unmap(p, byteCount: bytes) }
        try NUMA.apply(.interleave(nodes: [a, b]), to: UnsafeMutableRawBufferPointer(start: p, count: bytes))
        for off in stride(from: 0, to: bytes, by: pageSize) { p.storeBytes(of: 1, toByteOffset: off, as: UInt8.self) }
        let byNode = try NUMA.residentBytesByNode(of: UnsafeRawBufferPointer(start: p, count: bytes))
        #expect(byNode.values.reduce(0, +) == bytes)
        #expect(abs((byNode[a] ?? 0) - (byNode[b] ?? 0)) <= bytes / 8, "\(byNode)")
    }
}
