import MemProbeTestSupport
import SystemPackage
import Testing

@testable import MemProbeSystem

/// mbind and the move_pages query go through the choke points: an injected errno reaches the caller as
/// `NUMAError.system` naming the call.
@Suite(.enabled(if: TestEnvironment.numaNodes > 0, "libnuma or NUMA support unavailable"))
struct NUMAChokePointTests {
    @Test func injectedMbindAndMovePagesFailuresAreReported() throws {
        let region = try VirtualMemory.map(byteCount: 4 * VirtualMemory.pageSize)
        defer { try? VirtualMemory.unmap(region, byteCount: 4 * VirtualMemory.pageSize) }
        let range = UnsafeMutableRawBufferPointer(start: region, count: 4 * VirtualMemory.pageSize)
        let mock = SyscallMock()
        mock.fail(.mbind, with: .ioError)
        mock.fail(.movePages, with: .ioError)
        SyscallMock.$current.withValue(mock) {
            #expect(throws: NUMAError.system(SystemCallError(call: "mbind(\(NUMAPolicy.bind(node: 0)))", errno: .ioError))) {
                try NUMA.apply(.bind(node: 0), to: range)
            }
            #expect(throws: NUMAError.system(SystemCallError(call: "numa_move_pages(query, 4 pages)", errno: .ioError))) {
                try NUMA.pageNodes(of: UnsafeRawBufferPointer(range))
            }
        }
        #expect(mock.injected(.mbind) == 1 && mock.injected(.movePages) == 1)
        // Without the mock both work.
        try NUMA.apply(.bind(node: 0), to: range)
        #expect(try NUMA.pageNodes(of: UnsafeRawBufferPointer(range)).count == 4)
    }
}
