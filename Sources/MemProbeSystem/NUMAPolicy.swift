import CShims
import SystemPackage

/// Where the pages of a range may come from, applied with `mbind` (the kernel then places each page when it is
/// first touched).
public enum NUMAPolicy: Hashable, Sendable, CustomStringConvertible {
    /// No policy of its own (MPOL_DEFAULT): the thread's policy, normally the node of the CPU that touches a page.
    case none
    /// Only from `node` (MPOL_BIND): a fault fails with SIGBUS/OOM rather than use another node.
    case bind(node: Int)
    /// From `node` while it has free memory, else from others (MPOL_PREFERRED).
    case preferred(node: Int)
    /// Page by page round-robin over `nodes` (MPOL_INTERLEAVE): spreads bandwidth for memory all CPUs share.
    case interleave(nodes: [Int])

    public var description: String {
        switch self {
        case .none: "none"
        case .bind(let n): "bind:\(n)"
        case .preferred(let n): "preferred:\(n)"
        case .interleave(let ns): "interleave:" + ns.map(String.init).joined(separator: ",")
        }
    }

    /// The nodes the policy names.
    public var nodes: [Int] {
        switch self {
        case .none: []
        case .bind(let n), .preferred(let n): [n]
        case .interleave(let ns): ns
        }
    }
}

extension NUMA {
    /// Applies `policy` to `range` (page-aligned) with `mbind`. Pages already resident stay where they are; the
    /// policy decides where later faults in the range are served from. ``NUMAPolicy/none`` resets the range to
    /// the default policy, and is a no-op where NUMA is unavailable (so a default arena needs no libnuma).
    ///
    /// - Throws: ``NUMAError/noSuchNode(_:maxNode:)`` for a node that does not exist (or an empty interleave set),
    ///   ``NUMAError/unalignedRange(address:pageSize:)``, ``NUMAError/libnumaMissing(reason:)``,
    ///   ``NUMAError/unavailable``.
    public static func apply(_ policy: NUMAPolicy, to range: UnsafeMutableRawBufferPointer) throws(NUMAError) {
        if policy == .none && !isAvailable { return }
        try requireAvailable()
        guard let max = maxNode else { throw .unavailable }
        guard let base = range.baseAddress, range.count > 0 else { return }
        let pageSize = VirtualMemory.pageSize
        guard UInt(bitPattern: base) % UInt(pageSize) == 0 else {
            throw .unalignedRange(address: UInt(bitPattern: base), pageSize: pageSize)
        }
        let mode: Int32
        switch policy {
        case .none: mode = CSHIMS_MPOL_DEFAULT
        case .bind: mode = CSHIMS_MPOL_BIND
        case .preferred: mode = CSHIMS_MPOL_PREFERRED
        case .interleave(let ns):
            guard !ns.isEmpty else { throw .noSuchNode(-1, maxNode: max) }
            mode = CSHIMS_MPOL_INTERLEAVE
        }
        // The kernel accepts at most one page of mask bits; beyond that a node cannot exist.
        // Checked here: for interleave the kernel silently drops nodes that do not exist as long as one does.
        if let bad = policy.nodes.first(where: { $0 < 0 || $0 >= pageSize * 8 - 1 || $0 > max }) { throw .noSuchNode(bad, maxNode: max) }
        if policy != .none {
            let existing = nodes
            if let bad = policy.nodes.first(where: { !existing.contains($0) }) { throw .noSuchNode(bad, maxNode: max) }
        }
        let bitsPerWord = UInt.bitWidth
        var mask = [UInt](repeating: 0, count: (policy.nodes.max() ?? 0) / bitsPerWord + 1)
        for n in policy.nodes { mask[n / bitsPerWord] |= 1 << UInt(n % bitsPerWord) }
        // maxnode is one more than the bits in the mask: the kernel subtracts one (as libnuma does).
        let maxnode = policy == .none ? 0 : UInt(mask.count * bitsPerWord + 1)
        let r = mask.withUnsafeBufferPointer {
            system_mbind(base, range.count, mode, policy == .none ? nil : $0.baseAddress, maxnode, 0)
        }
        guard case .failure(let e) = r else { return }
        if e == .operationNotSupportedByDevice || e == .invalidArgument,
           let bad = policy.nodes.first(where: { $0 > max || !nodes.contains($0) }) {
            throw .noSuchNode(bad, maxNode: max)
        }
        throw .system(SystemCallError(call: "mbind(\(policy))", errno: e))
    }

    /// Resident bytes of `range` per node, from the kernel (`move_pages` in query mode, every page of the range).
    /// Pages never touched or released are in no node; the sum is the range's resident bytes.
    public static func residentBytesByNode(of range: UnsafeRawBufferPointer) throws(NUMAError) -> [Int: Int] {
        let pageSize = VirtualMemory.pageSize
        var result: [Int: Int] = [:]
        for page in try pageNodes(of: range) {
            if case .node(let n) = page { result[n, default: 0] += pageSize }
        }
        return result
    }
}
