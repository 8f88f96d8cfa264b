#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A lock protecting a value, built on `pthread_mutex_t`.
///
/// Why not `Synchronization.Mutex`: on Linux it is a priority-inheritance futex whose contended hand-over happens
/// inside the kernel (FUTEX_LOCK_PI / FUTEX_UNLOCK_PI), so ThreadSanitizer sees no happens-before edge and reports
/// every contended critical section as a race. TSan intercepts pthread mutexes, so the arena's TSan pass checks
/// real races only. The mutex lives in its own allocation: it must never move.
final class ArenaLock<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Out of line so that access is not subject to dynamic exclusivity checks (the mutex already excludes).
    private let value: UnsafeMutablePointer<Value>

    init(_ value: Value) {
        self.value = .allocate(capacity: 1)
        self.value.initialize(to: value)
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    @inline(__always)
    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}
