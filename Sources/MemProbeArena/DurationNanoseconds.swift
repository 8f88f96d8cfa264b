#if canImport(Glibc)
@preconcurrency import Glibc
#endif

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanosecondsClamped: Int {
        let (s, a) = components
        let (ns, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return s < 0 ? 0 : Int(Int64.max) }
        return max(0, Int(ns) + Int(a / 1_000_000_000))
    }
}
