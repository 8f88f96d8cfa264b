import MemProbeSystem

extension PageArena {
    /// Resident bytes of the arena's mappings per NUMA node, from the kernel (`move_pages` in query mode over every
    /// mapped page; O(mapped pages), ~1 ms per 64 MiB region here). The sum equals ``residentBytes()`` except for
    /// pages faulted in or released between the two reads.
    ///
    /// - Throws: ``ArenaError/numa(_:)`` carrying the ``NUMAError`` (e.g. libnuma missing).
    public func residentBytesByNode() throws(ArenaError) -> [Int: Int] {
        try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> [Int: Int] in
            var total: [Int: Int] = [:]
            for r in c.extents.ranges {
                do throws(NUMAError) {
                    let range = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: r.start), count: r.byteCount)
                    for (node, bytes) in try NUMA.residentBytesByNode(of: range) { total[node, default: 0] += bytes }
                } catch {
                    throw .numa(error)
                }
            }
            return total
        }
    }
}
