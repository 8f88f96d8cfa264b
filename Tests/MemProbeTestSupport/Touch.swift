import MemProbeSystem

/// Writes `value` to one byte per page of `bytes` at `p`, so every page is resident (a read would only map the
/// shared zero page).
public func touch(_ p: UnsafeMutableRawPointer, _ bytes: Int, value: UInt8 = 1) {
    var off = 0
    while off < bytes {
        p.storeBytes(of: value, toByteOffset: off, as: UInt8.self)
        off += VirtualMemory.pageSize
    }
}
