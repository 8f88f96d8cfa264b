import Synchronization

/// Hash seeds: two random 64-bit process keys, and a distinct pair of seeds per map storage (as `Dictionary` seeds
/// per instance), so one map's collisions do not carry over to another. Seeds are derived from the process keys with
/// the keyed mix below, so seeds of different storages are unrelated for anyone without the process keys.
@usableFromInline
internal enum _MapSeed {
    static let processKey0: UInt64 = UInt64.random(in: 0...UInt64.max)
    static let processKey1: UInt64 = UInt64.random(in: 0...UInt64.max)
    static let counter = Atomic<UInt64>(0)

    /// A fresh seed pair (one atomic add and two multiplies).
    @usableFromInline
    static func next() -> (UInt64, UInt64) {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let a = mix(n ^ processKey0, processKey1 ^ 0x9E37_79B9_7F4A_7C15)
        let b = mix(a ^ processKey1, n &+ processKey0)
        return (a, b | 1)
    }

    /// The 64×64→128-bit multiply folded to 64 bits (wyhash's `mum`): every input bit reaches the output.
    @inlinable @inline(__always)
    static func mix(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let p = x.multipliedFullWidth(by: y)
        return p.high ^ p.low
    }

    /// The keyed hash of a 64-bit key (Int/UInt keys): the seeds are folded into the mixing, not only XORed onto
    /// the key. First round: the product of two keyed words, `(k ⊕ s0) · (rotl(k, 32) ⊕ s1)` — both operands
    /// depend on the key and on a different seed, so the relation between a key's halves (the equal-halves family
    /// of issue 13) is not preserved into the home bucket, and the product is not linear in the key for any seed.
    /// Second round: the folded product multiplied by a constant again (wyhash's final `mix`), so every bit of
    /// both product halves reaches the 32 bits kept. Not a cryptographic PRF (see docs/arena-map.md, Hashing).
    @inlinable @inline(__always)
    static func hash(_ k: UInt64, _ s0: UInt64, _ s1: UInt64) -> UInt64 {
        let r = (k &<< 32) | (k &>> 32)
        let p = (k ^ s0).multipliedFullWidth(by: r ^ s1)
        return mix(p.low ^ 0xE703_7ED1_A0B4_28DB, p.high ^ s0)
    }
}
