#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CoreMetrics
import Logging
import MemProbeArena
import MemProbeSystem
import ServiceLifecycle

/// memprobe's background worker for a service: a swift-service-lifecycle `Service` to run in the `ServiceGroup`.
///
/// While it runs, on a thread of its own (never an application thread), it
/// - runs the arenas' background work: `decay`/`freeThenPageOut` deadlines and deferred releases of every live
///   ``PageArena``, waking at the next deadline, so those strategies give memory back in an idle process;
/// - keeps the process under a soft memory limit (``MemoryLimitSetting``, `MEMPROBE_MEMORY_LIMIT`, or 90 % of the
///   memory cgroup limit): above its target it releases idle arena pages for good and, when glibc holds enough
///   free bytes, calls `malloc_trim` (rate-limited);
/// - stays within a budget: ≤ 1 % of one core on average, a capped release rate, and a back-off (with one
///   rate-limited warning) when live data alone exceeds the limit;
/// - updates swift-metrics gauges and counters through an injected `MetricsFactory`, and publishes the figures in a
///   shared-memory file that `memprobe snapshot <pid>` reads.
///
/// ```swift
/// let governor = try MemoryGovernor(logger: logger, metricsFactory: myFactory)
/// let group = ServiceGroup(services: [server, governor], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
/// No task or thread is started before ``run()``; cancellation and graceful shutdown stop it within a tick.
public final class MemoryGovernor: Service, Sendable {
    /// How the governor works. The defaults suit a service; tests and benchmarks shorten the intervals.
    public struct Configuration: Sendable {
        /// The soft limit; nil: `MEMPROBE_MEMORY_LIMIT`, else 90 % of the memory cgroup limit, else none.
        public var memoryLimit: MemoryLimitSetting?
        /// The governor releases down to this share of the limit once the watched figure passes it.
        public var targetFraction: Double = 0.95
        /// Longest sleep between two ticks (the governor also wakes at the arenas' next deadline).
        public var tickInterval: Duration = .milliseconds(100)
        /// Shortest sleep between two ticks (bounds the wake-up rate when deadlines crowd).
        public var minimumTickInterval: Duration = .milliseconds(5)
        /// Average CPU share of one core the governor may use (Go's scavenger budget: 1 %), over `cpuWindow`.
        public var cpuBudget: Double = 0.01
        /// The window the CPU budget is averaged over: release bursts up to `cpuBudget × cpuWindow` go at once.
        public var cpuWindow: Duration = .seconds(10)
        /// Release rate cap (bytes per second, cost-weighted as the arena counts it); bursts of one second's worth.
        public var maxReleaseBytesPerSecond: Int = 1 << 30
        /// `malloc_trim` only when glibc's heap holds at least this many free bytes ...
        public var trimMinimumFreeBytes: Int = 64 << 20
        /// ... and at most once per this interval (it blocks malloc: ~0.2–0.3 s per fragmented GiB).
        public var trimMinimumInterval: Duration = .seconds(10)
        /// How often metrics are updated (the published file is updated every tick).
        public var metricsInterval: Duration = .seconds(1)
        /// How often the figures that cost a walk are read: smaps_rollup (LazyFree, O(resident pages)) and mallinfo2.
        public var slowFigureInterval: Duration = .seconds(10)
        /// Longest back-off after an overrun (the wait doubles from 1 s up to this).
        public var maximumBackOff: Duration = .seconds(30)
        /// At most one warning per this interval when the limit cannot be met.
        public var warningInterval: Duration = .seconds(300)
        /// Publish figures for `memprobe snapshot <pid>` (also off when `MEMPROBE_PUBLISH=0`).
        public var publish: Bool = true
        /// The arenas to govern; nil: every live arena (``PageArena/liveArenas``).
        public var arenas: [PageArena]?
        /// Called on the governor's thread when a tool writes a request into the published file (e.g.
        /// `memprobe profile <pid>` asking for a heap profile at `request.path`); returns 0 or an errno value.
        public var requestHandler: (@Sendable (PublishedRequest) -> Int32)?

        public init(memoryLimit: MemoryLimitSetting? = nil) { self.memoryLimit = memoryLimit }
    }

    /// Thrown by ``run()`` when the governor already runs.
    public struct AlreadyRunning: Error, CustomStringConvertible {
        public var description: String { "this MemoryGovernor is already running" }
    }

    public let configuration: Configuration
    /// The soft limit resolved at init.
    public let limit: ResolvedMemoryLimit
    let logger: Logger
    let metrics: GovernorMetrics?
    let shared = PthreadLock(Shared())
    /// The process's memory cgroup (limited or not), for its figures in metrics.
    let processCgroup: MemoryCgroup?

    struct Shared {
        var state = GovernorState()
        var stopRequested = false
        var active = false
    }

    /// Creates a governor. Reads `MEMPROBE_MEMORY_LIMIT` and the memory cgroup limit now; starts nothing.
    /// - Parameters:
    ///   - metricsFactory: where gauges and counters go (nil: no metrics). The library never bootstraps `MetricsSystem`.
    /// - Throws: ``MemoryLimitError`` for an invalid `MEMPROBE_MEMORY_LIMIT` or a share without a cgroup limit.
    public init(
        configuration: Configuration = .init(), logger: Logger = Logger(label: "memprobe.governor"),
        metricsFactory: (any MetricsFactory)? = nil
    ) throws(MemoryLimitError) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metricsFactory.map { GovernorMetrics(factory: $0) }
        let cgroup = try? MemoryCgroup.current()
        self.processCgroup = cgroup
        self.limit = try ResolvedMemoryLimit.resolve(
            configured: configuration.memoryLimit,
            environment: configuration.memoryLimit == nil ? try MemoryLimitSetting.fromEnvironment() : nil, cgroup: cgroup)
        var s = GovernorState()
        s.limitBytes = limit.bytes
        s.limitSource = limit.source
        s.targetBytes = limit.bytes.map { Int(Double($0) * configuration.targetFraction) }
        s.cgroupLimitBytes = limit.cgroupLimit
        s.watched = limit.cgroup != nil ? .cgroupWorkingSet : .effectiveRss
        shared.withLock { $0.state = s }
    }

    /// The governor's current state (a copy; updated every tick).
    public var state: GovernorState { shared.withLock { $0.state } }

    /// Runs until cancelled or until graceful shutdown; the work happens on a thread the governor owns.
    public func run() async throws {
        let claimed = shared.withLock { s -> Bool in
            if s.active { return false }
            s.active = true
            s.stopRequested = false
            return true
        }
        guard claimed else { throw AlreadyRunning() }
        defer { shared.withLock { $0.active = false } }
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                    let started = GovernorThread.start { [self] in
                        GovernorLoop(governor: self).run()
                        done.resume()
                    }
                    if !started { done.resume(throwing: GovernorThread.StartFailed()) }
                }
            } onCancel: {
                self.stop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    func stop() {
        shared.withLock { $0.stopRequested = true }
        shared.broadcast()
    }
}

/// Runs a closure on a new detached pthread.
enum GovernorThread {
    struct StartFailed: Error, CustomStringConvertible {
        var description: String { "could not start the governor's thread" }
    }

    final class Box: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping @Sendable () -> Void) -> Bool {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            return false
        }
        pthread_detach(thread)
        return true
    }
}
