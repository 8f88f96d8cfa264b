#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem
import Synchronization

/// The process-wide thread that finishes arenas' deferred release work off the callers' threads (issue 13 §2).
///
/// A `deallocate` releases at most ``PageArena/Configuration/maxReleaseBytesPerCall`` itself, so its caller's pause
/// stays bounded; the rest used to wait for a later call into the same arena, which an idle service never makes
/// (emptying a 1M-entry map left 12 MiB resident for good). Now an arena that still has due backlog after a call puts
/// itself on this drainer's list (once: `PageArena.drainScheduled`), and the drainer does the rest in slices of the
/// same bound, each under the arena's lock and each followed by a short pause so the arena's own callers get the lock
/// between slices. It also closes the windows of arenas that keep a dirty reserve (`DirtyReserve`), so a reserve
/// decays with no call by the application.
///
/// The thread starts at the first request, sleeps on a condition variable while there is no work, and exits after
/// `idleExit` without work (a later request starts it again): a process that never frees much never has it, and no
/// thread lingers. Timers of `decay`/`freeThenPageOut` and the soft limit belong to the governor, which may also call
/// ``PageArena/performDeferredWork(budgetBytes:)``; this drainer never waits for a deadline other than a reserve window.
final class BackgroundDrain: @unchecked Sendable {
    static let shared = BackgroundDrain()

    /// Pause between two slices (lets the arena's callers take its lock; slices are ~1–3 ms of madvise each).
    static let slicePauseNanoseconds = 200_000
    /// The thread exits after this long without work.
    static let idleExitNanoseconds = 2_000_000_000

    private struct Entry {
        weak var arena: PageArena?
        /// Monotonic ns before which this arena needs nothing (0: due now).
        var notBefore: Int
    }

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `mutex`.
    private var entries: [Entry] = []
    private var threadRunning = false
    /// Threads started so far (tests check that the drainer starts lazily and exits when idle).
    private var startedThreads = 0

    private init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(condition, &attributes) == 0)
        pthread_condattr_destroy(&attributes)
        // fork(): the child has no drainer thread, and the mutex may have been held by a parent thread. Hold it across
        // the fork; the child starts afresh (no thread, empty list, the listed arenas may schedule again).
        pthread_atfork(
            { BackgroundDrain.shared.lockForFork() },
            { BackgroundDrain.shared.unlockAfterFork() },
            { BackgroundDrain.shared.resetInForkedChild() })
    }

    private func lockForFork() { pthread_mutex_lock(mutex) }
    private func unlockAfterFork() { pthread_mutex_unlock(mutex) }

    private func resetInForkedChild() {
        for e in entries { e.arena?.drainScheduled.store(false, ordering: .relaxed) }
        entries.removeAll()
        threadRunning = false
        pthread_mutex_unlock(mutex)
    }

    /// Puts `arena` on the list (due now) and wakes or starts the thread. May be called under the arena's lock:
    /// the drainer never takes an arena's lock while holding its own.
    func schedule(_ arena: PageArena) {
        pthread_mutex_lock(mutex)
        entries.append(Entry(arena: arena, notBefore: 0))
        if threadRunning {
            pthread_cond_signal(condition)
        } else {
            threadRunning = true
            startedThreads += 1
            startThread()
        }
        pthread_mutex_unlock(mutex)
    }

    /// Whether the drainer thread is alive, and how many it has started (for tests and diagnostics).
    var state: (running: Bool, started: Int, arenas: Int) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return (threadRunning, startedThreads, entries.count)
    }

    private func startThread() {
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let rc = pthread_create(&thread, &attributes, { _ in
            BackgroundDrain.shared.run()
            return nil
        }, nil)
        pthread_attr_destroy(&attributes)
        if rc != 0 {
            // No thread (RLIMIT_NPROC, …): deferred work falls back to the arenas' later calls, as before.
            threadRunning = false
            entries.removeAll()
        }
    }

    private func run() {
        pthread_mutex_lock(mutex)
        var idleSince = monotonicNanoseconds()
        while true {
            let now = monotonicNanoseconds()
            entries.removeAll { $0.arena == nil }
            var due: [PageArena] = []
            var nextWake = Int.max
            for e in entries {
                if e.notBefore <= now { if let a = e.arena { due.append(a) } } else { nextWake = min(nextWake, e.notBefore) }
            }
            if due.isEmpty {
                if entries.isEmpty && now - idleSince >= Self.idleExitNanoseconds {
                    threadRunning = false
                    pthread_mutex_unlock(mutex)
                    return
                }
                let wake = entries.isEmpty ? idleSince + Self.idleExitNanoseconds : nextWake
                var ts = timespec(tv_sec: wake / 1_000_000_000, tv_nsec: wake % 1_000_000_000)
                pthread_cond_timedwait(condition, mutex, &ts)
                continue
            }
            entries.removeAll { e in e.notBefore <= now }
            pthread_mutex_unlock(mutex)

            var again: [Entry] = []
            for arena in due {
                switch arena.backgroundDrainSlice(now: monotonicNanoseconds()) {
                case .due: again.append(Entry(arena: arena, notBefore: 0))
                case .reserveUntil(let t): again.append(Entry(arena: arena, notBefore: t))
                case .none:
                    // Off the list; a call that adds work between these two steps re-schedules it.
                    arena.drainScheduled.store(false, ordering: .sequentiallyConsistent)
                    if arena.backgroundDrainSlice(now: monotonicNanoseconds()) != .none,
                       !arena.drainScheduled.exchange(true, ordering: .sequentiallyConsistent) {
                        again.append(Entry(arena: arena, notBefore: 0))
                    }
                }
            }
            let anyDue = again.contains { $0.notBefore == 0 }
            due.removeAll()  // drop strong references before sleeping
            if anyDue {
                var ts = timespec(tv_sec: 0, tv_nsec: Self.slicePauseNanoseconds)
                nanosleep(&ts, nil)
            }
            pthread_mutex_lock(mutex)
            entries += again
            idleSince = monotonicNanoseconds()
        }
    }
}

extension PageArena {
    /// Hands this arena's remaining due backlog to the background drainer (once until it is done).
    func requestBackgroundDrain() {
        if !drainScheduled.exchange(true, ordering: .sequentiallyConsistent) {
            BackgroundDrain.shared.schedule(self)
        }
    }
}
