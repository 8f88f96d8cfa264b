/// A seeded generator for reproducible test data (SplitMix64, Steele et al. 2014): each test names its seed,
/// so a failure replays exactly.
public struct TestRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The median of `values` (the mean of the middle two for an even count); nil when empty. Timing ratios in
/// tests use medians so one descheduled run on a shared VM does not decide the result.
public func median<T: BinaryFloatingPoint>(_ values: [T]) -> T? {
    guard !values.isEmpty else { return nil }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The median of integer `values` (the lower middle for an even count); nil when empty.
public func median<T: BinaryInteger>(_ values: [T]) -> T? {
    guard !values.isEmpty else { return nil }
    return values.sorted()[(values.count - 1) / 2]
}

/// One mebibyte.
public let MiB = 1 << 20
public let KiB = 1 << 10
