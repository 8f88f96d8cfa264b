#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds: cheap (vDSO) and immune to wall-clock steps.
@inline(__always)
func monotonicNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanosecondsClamped: Int {
        let (s, a) = components
        let (ns, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return s < 0 ? 0 : Int(Int64.max) }
        return max(0, Int(ns) + Int(a / 1_000_000_000))
    }
}
