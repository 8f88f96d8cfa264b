import MemProbeSystem

extension ArenaCore {
    /// Smallest zeroed allocation worth discarding pages for instead of writing zeros.
    static let zeroByDiscardMinimum = 64 << 10

    /// Makes `byteCount` bytes at `address` (an allocation the caller now owns) read as zero, and counts it.
    ///
    /// Large ranges discard their whole release units (MADV_DONTNEED): the pages fault in as zero one at a time
    /// when used, so zeroing megabytes costs no writes now. The unit is the huge-page size for a huge-page arena,
    /// so a huge page is never split; the head and tail outside whole units are written with zeros.
    mutating func zeroFill(_ address: UInt, byteCount: Int) {
        stats.zeroedAllocations += 1
        stats.zeroedBytes += byteCount
        let pointer = UnsafeMutableRawPointer(bitPattern: address)!
        let unit = UInt(releaseUnit)
        let end = address + UInt(byteCount)
        let first = (address + unit - 1) / unit * unit
        let last = end / unit * unit
        if byteCount >= Self.zeroByDiscardMinimum, last > first {
            let discard = Int(last - first)
            do {
                try sysAdvise(first, byteCount: discard, .dontNeed)
                stats.zeroedByDiscardBytes += discard
                pointer.initializeMemory(as: UInt8.self, repeating: 0, count: Int(first - address))
                UnsafeMutableRawPointer(bitPattern: last)!.initializeMemory(as: UInt8.self, repeating: 0, count: Int(end - last))
                return
            } catch {
                // Not supported for this range: fall back to writing zeros.
            }
        }
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
    }
}
