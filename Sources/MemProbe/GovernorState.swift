/// What the ``MemoryGovernor`` is doing: its limit, the figure it watches, what it released and what it cost.
/// Read it with ``MemoryGovernor/state``; `memprobe snapshot <pid>` shows it for a process that publishes.
public struct GovernorState: Sendable, Hashable, Codable {
    /// The figure kept under the soft limit.
    public enum WatchedFigure: String, Sendable, Hashable, Codable, CaseIterable {
        /// RSS − LazyFree of the process (no limited memory cgroup).
        case effectiveRss
        /// The memory cgroup's working set (usage − inactive_file), what the OOM killer and the kubelet act on.
        case cgroupWorkingSet
    }

    /// When the limit could not be met, and by how much.
    public struct Overrun: Sendable, Hashable, Codable {
        /// Wall-clock time, seconds since the Unix epoch.
        public var unixSeconds: Int
        /// The watched figure then, in bytes.
        public var watchedBytes: Int
        /// The soft limit then, in bytes.
        public var limitBytes: Int
        public init(unixSeconds: Int, watchedBytes: Int, limitBytes: Int) {
            self.unixSeconds = unixSeconds
            self.watchedBytes = watchedBytes
            self.limitBytes = limitBytes
        }
    }

    /// Whether the governor's loop is running.
    public var running: Bool = false
    /// The soft limit in bytes, nil when there is none.
    public var limitBytes: Int?
    /// Where the limit came from.
    public var limitSource: MemoryLimitSource = .none
    /// The level the governor releases down to once the watched figure passes it (a share of the limit).
    public var targetBytes: Int?
    /// The memory cgroup's hard limit, when the process is in a limited one.
    public var cgroupLimitBytes: Int?
    /// Which figure is watched.
    public var watched: WatchedFigure = .effectiveRss
    /// Its last value, in bytes.
    public var watchedBytes: Int?
    /// Bytes the governor released (arena deferred work, soft-limit releases, malloc_trim), and the calls.
    public var releasedBytes: Int = 0
    public var releaseCalls: Int = 0
    /// Bytes released because of the soft limit (part of ``releasedBytes``).
    public var limitReleasedBytes: Int = 0
    /// `malloc_trim` calls, and the resident bytes they gave back (statm before − after, summed).
    public var trimCalls: Int = 0
    public var trimReleasedBytes: Int = 0
    /// CPU time the governor's thread used, in nanoseconds.
    public var cpuNanoseconds: Int = 0
    /// Wall time since the loop started, in nanoseconds (``cpuNanoseconds`` / this = its share of one core).
    public var runNanoseconds: Int = 0
    /// Loop iterations.
    public var ticks: Int = 0
    /// How often the limit could not be met (live data above it, nothing idle left to release).
    public var overrunCount: Int = 0
    /// The last such time.
    public var lastOverrun: Overrun?
    /// True while the governor waits before trying to release for the limit again (after an overrun).
    public var backingOff: Bool = false
    /// glibc heap figures from the last (rate-limited) `mallinfo2`.
    public var mallocInUseBytes: Int?
    public var mallocFreeBytes: Int?

    public init() {}

    /// CPU used as a share of one core since the loop started (0.01 = 1 %).
    public var cpuShare: Double { runNanoseconds > 0 ? Double(cpuNanoseconds) / Double(runNanoseconds) : 0 }
}
