#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `CLOCK_MONOTONIC` in nanoseconds: cheap (vDSO), never steps with the wall clock.
/// The one time source every layer uses for durations and release delays.
@inlinable @inline(__always)
public func monotonicNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
}

/// CPU time the calling thread has used (user + system), in nanoseconds: page faults and system calls count,
/// time spent descheduled does not.
@inlinable @inline(__always)
public func threadCPUNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
}
