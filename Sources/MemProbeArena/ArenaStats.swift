/// The arena's own books: the Go `runtime.MemStats` figures for one ``PageArena``, plus its system-call counts.
///
/// Every snapshot satisfies `alloc ≤ heapInuse`, `heapInuse + heapIdle == sys` and
/// `heapReleased == heapReleasedLazy + heapReleasedDiscarded ≤ heapIdle`: the arena publishes a whole copy
/// after each change, so a reader never sees half of an update.
public struct ArenaStats: Sendable, Hashable, Codable {
    /// Bytes of live allocations (as requested by the callers).
    public var alloc: Int = 0
    /// Bytes of pages that hold live allocations (page runs, and small-block pages with at least one block
    /// in use, plus at most one spare empty page per size class).
    public var heapInuse: Int = 0
    /// Bytes of mapped pages that hold no allocation (free runs in every state).
    public var heapIdle: Int = 0
    /// Idle bytes given back to the kernel: `heapReleasedLazy + heapReleasedDiscarded`.
    public var heapReleased: Int = 0
    /// Idle bytes given back lazily (MADV_FREE): still in RSS (as LazyFree) until the kernel needs them.
    public var heapReleasedLazy: Int = 0
    /// Idle bytes discarded (MADV_DONTNEED, MADV_PAGEOUT of lazy pages, or never touched since mapping).
    public var heapReleasedDiscarded: Int = 0
    /// Address space the arena has mapped and not unmapped.
    public var sys: Int = 0
    /// `mmap` calls made and bytes mapped by them.
    public var mmapCalls: Int = 0
    public var mmapBytes: Int = 0
    /// `munmap` calls made and bytes unmapped by them.
    public var munmapCalls: Int = 0
    public var munmapBytes: Int = 0
    /// `madvise` calls made (every advice) and the bytes they covered.
    public var madviseCalls: Int = 0
    public var madviseBytes: Int = 0
    /// Wall time spent inside mmap/munmap/madvise, in nanoseconds.
    public var syscallNanoseconds: Int = 0
    /// Zeroed allocations made (``PageArena/allocateZeroed(byteCount:alignment:)``) and their bytes.
    public var zeroedAllocations: Int = 0
    public var zeroedBytes: Int = 0
    /// Of `zeroedBytes`, those zeroed by discarding whole pages (MADV_DONTNEED) instead of writing zeros.
    public var zeroedByDiscardBytes: Int = 0

    public init() {}

    /// Every figure, in declaration order: the one list for code that copies the figures one by one (encoders,
    /// exporters). The struct holds only these `Int`s, so the lock-free publisher copies it as a row of words
    /// (checked: `fields.count` words fill the struct, each at its own offset).
    package static let fields: [WritableKeyPath<ArenaStats, Int> & Sendable] = [
        \.alloc, \.heapInuse, \.heapIdle, \.heapReleased, \.heapReleasedLazy, \.heapReleasedDiscarded, \.sys,
        \.mmapCalls, \.mmapBytes, \.munmapCalls, \.munmapBytes, \.madviseCalls, \.madviseBytes, \.syscallNanoseconds,
        \.zeroedAllocations, \.zeroedBytes, \.zeroedByDiscardBytes,
    ]

    /// The figures as one buffer of words, in ``fields`` order, with no copy and no allocation (publishers on hot
    /// paths). Valid because the struct is exactly that row of `Int`s: checked by `StatsPublisher.init` and a test
    /// of every field's offset.
    package func withWords<R>(_ body: (UnsafeBufferPointer<Int>) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: self) { raw in try body(raw.bindMemory(to: Int.self)) }
    }
}

/// What one ``PageArena/release(using:)`` call did.
public struct ReleaseReport: Sendable, Hashable, Codable {
    /// Bytes whose state moved towards the kernel (dirty → lazy, dirty/lazy → discarded, idle → unmapped),
    /// each byte counted once per call.
    public var releasedBytes: Int
    /// The strategy used, as ``ReleaseStrategy/description`` prints it.
    public var strategy: String
    /// Wall time of the whole call, in nanoseconds.
    public var nanoseconds: Int
    /// `madvise` (and `munmap`) calls the release made.
    public var madviseCalls: Int

    public init(releasedBytes: Int, strategy: String, nanoseconds: Int, madviseCalls: Int) {
        self.releasedBytes = releasedBytes
        self.strategy = strategy
        self.nanoseconds = nanoseconds
        self.madviseCalls = madviseCalls
    }
}
