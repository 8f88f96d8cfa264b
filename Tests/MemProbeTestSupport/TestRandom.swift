import MemProbeCompare

/// A seeded generator for reproducible test data: each test names its seed, so a failure replays exactly. The same
/// SplitMix64 the compare workload and the benchmarks use (one implementation).
package typealias TestRandom = SplitMix64

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
