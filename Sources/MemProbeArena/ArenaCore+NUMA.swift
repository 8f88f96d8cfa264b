import MemProbeSystem

extension ArenaCore {
    /// Applies the configured NUMA policy to a region just mapped (before any page of it is touched, so every
    /// fault follows the policy). On failure the region is unmapped again and the arena is unchanged.
    mutating func applyNUMAPolicy(toNewRegion start: UInt, byteCount: Int) throws(ArenaError) {
        guard configuration.numaPolicy != .none else { return }
        do {
            try NUMA.apply(configuration.numaPolicy,
                           to: UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: start), count: byteCount))
        } catch {
            try? sysUnmap(start, byteCount: byteCount)
            extents.remove(start: start, byteCount: byteCount)
            throw .numa(error)
        }
    }
}
