import CShims
import SystemPackage

/// What can go wrong when querying NUMA placement or binding memory to a node.
public enum NUMAError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kernel or libnuma reports no NUMA support (`numa_available() < 0`).
    case unavailable
    /// `libnuma.so.1` could not be loaded (it is loaded at run time, not linked); `reason` is the loader's message.
    case libnumaMissing(reason: String)
    /// The node does not exist on this machine (the kernel answered EINVAL/ENODEV, or it is out of range).
    case noSuchNode(Int, maxNode: Int)
    /// The range does not start on a page boundary (mbind requires it).
    case unalignedRange(address: UInt, pageSize: Int)
    /// Any other failed call.
    case system(SystemCallError)

    public var description: String {
        switch self {
        case .unavailable: "NUMA is not available on this system"
        case .libnumaMissing(let reason):
            "libnuma.so.1 could not be loaded (\(reason)); install it: apt-get install libnuma1 (NUMA features are off without it)"
        case .noSuchNode(let n, let max): "NUMA node \(n) does not exist (nodes are 0...\(max))"
        case .unalignedRange(let a, let ps): "address 0x\(String(a, radix: 16)) is not aligned to the page size \(ps)"
        case .system(let e): e.description
        }
    }
}

/// Where one page of a range lives.
public enum PageNode: Hashable, Sendable {
    /// The page is resident on this node.
    case node(Int)
    /// The page was never populated (or was released): the kernel answered `-ENOENT`.
    case notPopulated
    /// The kernel answered another error for this page (e.g. `EFAULT` outside a mapping).
    case error(Errno)
}

/// Size and free memory of one NUMA node.
public struct NUMANodeMemory: Hashable, Sendable, Codable {
    /// The node number.
    public let node: Int
    /// Memory the node manages, in bytes (not MemTotal: some memory may not be initialized yet).
    public let size: Int
    /// Free memory on the node, in bytes.
    public let free: Int
}

/// NUMA topology and placement through libnuma: which nodes exist, where pages live, binding a range to a node.
public enum NUMA {
    /// Whether NUMA calls can be made: libnuma loaded and the kernel supports NUMA (true on a one-node machine too).
    public static var isAvailable: Bool { cshims_numa_available() == 1 }

    /// Why NUMA calls cannot be made (`nil` when they can): libnuma missing, or no NUMA in the kernel.
    /// libnuma is loaded with `dlopen` on first use, so a process without `libnuma1` still runs.
    public static var unavailableReason: NUMAError? {
        switch cshims_numa_load() {
        case 0: return nil
        case Errno.noFunction.rawValue: return .unavailable
        default: return .libnumaMissing(reason: String(cString: cshims_numa_load_message()))
        }
    }

    /// What loading libnuma from `library` (a soname or path) would report: `nil` when it loads, else
    /// ``NUMAError/libnumaMissing(reason:)`` with the loader's message. Loads nothing for good.
    public static func probeLibrary(_ library: String) -> NUMAError? {
        var message = [CChar](repeating: 0, count: 256)
        let rc = cshims_numa_probe_library(library, &message, message.count)
        if rc == 0 { return nil }
        return .libnumaMissing(reason: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Throws ``unavailableReason`` if there is one.
    static func requireAvailable() throws(NUMAError) {
        if let reason = unavailableReason { throw reason }
    }

    /// The highest node number, or `nil` when NUMA is unavailable.
    public static var maxNode: Int? {
        let n = cshims_numa_max_node()
        return n < 0 ? nil : Int(n)
    }

    /// The nodes that have memory (0 through ``maxNode`` whose size can be read).
    public static var nodes: [Int] {
        guard let max = maxNode else { return [] }
        return (0...max).filter { (try? memory(ofNode: $0)) != nil }
    }

    /// How many nodes have memory.
    public static var nodeCount: Int { nodes.count }

    /// Size and free bytes of `node`.
    public static func memory(ofNode node: Int) throws(NUMAError) -> NUMANodeMemory {
        try requireAvailable()
        guard let max = maxNode else { throw .unavailable }
        guard node >= 0, node <= max else { throw .noSuchNode(node, maxNode: max) }
        var size: Int64 = 0
        var free: Int64 = 0
        let rc = cshims_numa_node_size(Int32(node), &size, &free)
        switch Errno(rawValue: rc) {
        case Errno(rawValue: 0): return NUMANodeMemory(node: node, size: Int(size), free: Int(free))
        case .noFunction: throw .unavailable
        case .invalidArgument: throw .noSuchNode(node, maxNode: max)
        case let e: throw .system(SystemCallError(call: "numa_node_size64(\(node))", errno: e))
        }
    }

    /// The node of every page of `range` (a `numa_move_pages` query: nothing moves).
    ///
    /// Pages never written (or released) come back as ``PageNode/notPopulated``, so this doubles as a
    /// residency probe. The range is rounded out to whole pages.
    public static func pageNodes(of range: UnsafeRawBufferPointer) throws(NUMAError) -> [PageNode] {
        try requireAvailable()
        guard let base = range.baseAddress, range.count > 0 else { return [] }
        let pageSize = VirtualMemory.pageSize
        let first = UInt(bitPattern: base) & ~UInt(pageSize - 1)
        let end = UInt(bitPattern: base) + UInt(range.count)
        let count = Int((end - first + UInt(pageSize) - 1) / UInt(pageSize))
        var result: [PageNode] = []
        result.reserveCapacity(count)
        // Query in batches so the pointer and status arrays stay small.
        let batch = 4096
        var pages = [UnsafeMutableRawPointer?](repeating: nil, count: Swift.min(batch, count))
        var status = [Int32](repeating: 0, count: pages.count)
        var done = 0
        while done < count {
            let n = Swift.min(batch, count - done)
            for i in 0..<n { pages[i] = UnsafeMutableRawPointer(bitPattern: first + UInt((done + i) * pageSize)) }
            let r = pages.withUnsafeMutableBufferPointer { p in
                status.withUnsafeMutableBufferPointer { s in system_numaPageNodes(p.baseAddress!, n, s.baseAddress!) }
            }
            if case .failure(let e) = r {
                throw .system(SystemCallError(call: "numa_move_pages(query, \(n) pages)", errno: e))
            }
            for s in status[..<n] {
                result.append(s >= 0 ? .node(Int(s)) : s == -Errno.noSuchFileOrDirectory.rawValue ? .notPopulated : .error(Errno(rawValue: -s)))
            }
            done += n
        }
        return result
    }

    /// Binds `range` to `node` with `mbind(MPOL_BIND)`: pages faulted in later come from that node only.
    ///
    /// - Throws: ``NUMAError/noSuchNode(_:maxNode:)`` when the node does not exist (the kernel says EINVAL or
    ///   ENODEV), ``NUMAError/unalignedRange(address:pageSize:)`` when `range` does not start on a page.
    public static func bind(_ range: UnsafeMutableRawBufferPointer, toNode node: Int) throws(NUMAError) {
        try apply(.bind(node: node), to: range)
    }
}
