import Synchronization

/// Hash seeds: one random base per process, a distinct seed per map storage (as `Dictionary` seeds per instance),
/// so one map's collisions do not carry over to another and hash-flooding inputs cannot be precomputed.
@usableFromInline
internal enum _MapSeed {
    static let base: UInt64 = UInt64.random(in: 0...UInt64.max)
    static let counter = Atomic<UInt64>(0)

    @usableFromInline
    static func next() -> UInt64 {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return mix(base &+ n &* 0x9E37_79B9_7F4A_7C15) | 1
    }

    /// The 64×64→128-bit multiply folded to 64 bits (wyhash's `mum`): cheap and mixes every input bit.
    @inlinable @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        let p = x.multipliedFullWidth(by: 0x9E37_79B9_7F4A_7C15)
        return p.high ^ p.low
    }
}
