#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem
import Synchronization

/// A page-run allocator over private anonymous memory that controls what happens to freed pages and keeps
/// exact Go-style books (``ArenaStats``).
///
/// - Address space comes in regions (`mmap` `MAP_NORESERVE`, ``Configuration/regionSize`` each; a larger
///   request gets a region of its own). Requests up to 2 KiB come from size-classed pages; larger ones get
///   whole page runs (best fit, preferring dirty, then lazily freed, then released runs, then new space).
/// - Freed pages go through the arena's ``ReleaseStrategy``. Work done inside `allocate`/`deallocate` is
///   bounded by ``Configuration/maxReleaseBytesPerCall``; the rest is done by later calls,
///   ``performDeferredWork(budgetBytes:)`` or ``release(using:)``.
/// - Optional per-thread caches of 16–256 B blocks (``Configuration/threadCache``) skip the lock for those sizes.
/// - Thread-safe (one pthread mutex, see `ArenaLock`). ``stats`` reads a copy published after every change
///   through a sequence lock (`StatsPublisher`), so a reader never waits for an allocation and never sees a
///   half-applied update.
public final class PageArena: Sendable {
    /// How an arena maps and releases memory.
    public struct Configuration: Sendable {
        /// Bytes of address space mapped at a time (rounded up to 2 MiB in huge-page mode).
        public var regionSize: Int = 64 << 20
        /// Map regions 2 MiB-aligned with MADV_HUGEPAGE and release only whole 2 MiB units
        /// (a 4 KiB release inside a huge page would split it for good).
        public var hugePages: Bool = false
        /// Bound on the release work one `allocate`/`deallocate` call does synchronously (the rest is deferred), in
        /// bytes of MADV_DONTNEED on 4 KiB pages: 4 MiB ≈ 1–3 ms here. Cheaper steps cover more bytes for the same
        /// cost (MADV_FREE of whole huge pages: 64×, DONTNEED/munmap of huge pages: 16×), MADV_PAGEOUT fewer (⅓).
        public var maxReleaseBytesPerCall: Int = 4 << 20
        /// Per-thread caches of 16–256 B blocks: allocate and free without the arena lock (bounded at 8 KiB of
        /// blocks per size class and thread, flushed when the thread exits, Alloc exact at every snapshot).
        /// Off by default: cached free blocks keep their pages in use, and ``PageArena/release(using:)`` returns
        /// only the calling thread's cache (see docs/page-arena.md, "Thread caches").
        public var threadCache: Bool = false
        /// NUMA placement of the arena's regions, applied with `mbind` to each region as it is mapped
        /// (default ``NUMAPolicy/none``: the kernel's first-touch placement; needs no libnuma).
        public var numaPolicy: NUMAPolicy = .none
        /// Mean bytes between heap-profile samples (see ``HeapProfileRate``): nil for the process default
        /// (`MEMPROBE_PROFILE_RATE`, else 512 KiB), 0 for no sampling.
        public var heapProfileInterval: Int? = nil
        /// Keep freed pages dirty (not released) up to the arena's recent peak of HeapInuse, "recent" being the
        /// last two windows of this length; nil (the default): no reserve. For services in steady churn: pages
        /// freed and needed again a moment later are not released and re-faulted, while resident pages never
        /// exceed what the arena recently used, and the reserve is released within two windows once use falls
        /// (by the background drainer, with no call by the application). Applies to strategies that release at
        /// once (`lazyFree`, `dontNeed`, `unmap`, `freeThenPageOut`'s FREE step).
        public var dirtyReserveWindow: Duration? = nil
        /// Let the process-wide background drainer finish release work a call left over (the rest of a free larger
        /// than ``maxReleaseBytesPerCall``), so memory leaves without a further call by the application. Off: the
        /// backlog waits for later calls or ``PageArena/performDeferredWork(budgetBytes:)`` (tests of the per-call bound).
        public var backgroundRelease: Bool = true

        /// - Parameter maxReleaseBytesPerCall: nil for the default, 4 MiB of 4 KiB-page DONTNEED-equivalent work.
        public init(regionSize: Int = 64 << 20, hugePages: Bool = false, maxReleaseBytesPerCall: Int? = nil,
                    threadCache: Bool = false, numaPolicy: NUMAPolicy = .none, heapProfileInterval: Int? = nil) {
            self.regionSize = max(regionSize, VirtualMemory.pageSize)
            self.hugePages = hugePages
            self.maxReleaseBytesPerCall = max(maxReleaseBytesPerCall ?? 4 << 20, VirtualMemory.pageSize)
            self.threadCache = threadCache
            self.numaPolicy = numaPolicy
            self.heapProfileInterval = heapProfileInterval
        }
    }

    let core: ArenaLock<ArenaCore>
    let published = StatsPublisher()
    /// Thread caches (PageArena+ThreadCache.swift): this arena's unique id, 0 when they are off.
    let threadCacheID: Int
    let threadCacheKey: pthread_key_t
    /// Live small blocks whose alignment put them in another class than their size's (see `allocateUnusuallyAligned`).
    let unusuallyAlignedBlocks = Atomic<Int>(0)
    /// Whether this arena is on the background drainer's list (BackgroundDrain.swift).
    let drainScheduled = Atomic<Bool>(false)
    /// The strategy, for lock-free-ish reads that do not wait behind a long release (tiny lock, rarely written).
    private let currentStrategy: ArenaLock<ReleaseStrategy>
    /// The configuration the arena was created with.
    public let configuration: Configuration
    /// Heap-profile sampling (HeapSampler.swift); nil when off or unavailable.
    package let heapSampler: HeapSampler?
    /// Whether this arena samples for heap profiles, and why not.
    public let heapProfileStatus: HeapProfileStatus

    /// Creates an empty arena. No memory is mapped until the first allocation.
    public init(strategy: ReleaseStrategy = .dontNeed, configuration: Configuration = .init()) {
        // The properties are settable after `Configuration.init`: clamp again.
        var configuration = configuration
        configuration.regionSize = max(configuration.regionSize, VirtualMemory.pageSize)
        configuration.maxReleaseBytesPerCall = max(configuration.maxReleaseBytesPerCall, VirtualMemory.pageSize)
        self.configuration = configuration
        self.core = ArenaLock(ArenaCore(strategy: strategy, configuration: configuration))
        self.currentStrategy = ArenaLock(strategy)
        self.threadCacheID = configuration.threadCache ? ThreadCacheRegistry.newArenaID() : 0
        self.threadCacheKey = configuration.threadCache ? ThreadCacheRegistry.key : pthread_key_t()
        (heapSampler, heapProfileStatus) = HeapSampler.make(
            interval: configuration.heapProfileInterval ?? HeapProfileRate.processDefault)
        ArenaRegistry.register(self)
    }

    deinit {
        ArenaRegistry.unregister(ObjectIdentifier(self))
        if threadCacheID != 0 { ThreadCacheRegistry.arenaDied(threadCacheID) }
        core.withLock { $0.unmapAll() }
    }

    /// The process-wide arena. Its strategy comes from `MEMPROBE_RELEASE` (see ``ReleaseStrategy/init(parsing:)``),
    /// else ``ReleaseStrategy/dontNeed``. An invalid value stops the process at first use with the valid names:
    /// a misspelt setting must not silently run with the default.
    public static let shared: PageArena = {
        do {
            let arena = PageArena(strategy: try ReleaseStrategy.fromEnvironment() ?? .dontNeed)
            arena.label = "shared"
            return arena
        } catch {
            fatalError("MEMPROBE_RELEASE: \(error)")
        }
    }()

    /// The release strategy in force.
    public var strategy: ReleaseStrategy { currentStrategy.withLock { $0 } }

    /// Changes the release strategy. Idle pages keep their state; the new strategy applies from now on.
    public func setStrategy(_ strategy: ReleaseStrategy) {
        core.withLock { c in
            c.setStrategy(strategy)
            currentStrategy.withLock { $0 = strategy }
            publish(c)
        }
    }

    /// Allocates `byteCount` bytes aligned to `alignment` (a power of two ≤ the page size).
    ///
    /// The memory is uninitialised: it may hold old data, or zeros, or (after MADV_FREE) either.
    /// - Throws: ``ArenaError/outOfMemory(requested:underlying:)`` when address space runs out (the arena is
    ///   unchanged), ``ArenaError/invalidSize(_:)``, ``ArenaError/invalidAlignment(_:)``.
    public func allocate(byteCount: Int, alignment: Int = 16) throws(ArenaError) -> UnsafeMutableRawPointer {
        try checkRequest(byteCount: byteCount, alignment: alignment)
        if threadCacheID != 0 && byteCount <= ThreadCache.maxBlockSize {
            let pointer = try allocateThroughThreadCache(byteCount: byteCount, alignment: alignment)
            heapSampler?.didAllocate(UInt(bitPattern: pointer), byteCount: byteCount)
            return pointer
        }
        return try allocateFromCore(byteCount: byteCount, alignment: alignment, zeroed: false)
    }

    /// Allocates `byteCount` bytes that read as zero (like `calloc`).
    ///
    /// Large allocations are zeroed by discarding their whole pages (MADV_DONTNEED, huge pages whole in a huge-page
    /// arena) rather than by writing, so their pages fault in as they are used; small ones are written. Counted in
    /// ``ArenaStats/zeroedAllocations``, ``ArenaStats/zeroedBytes`` and ``ArenaStats/zeroedByDiscardBytes``.
    /// Callers never advise arena memory themselves.
    public func allocateZeroed(byteCount: Int, alignment: Int = 16) throws(ArenaError) -> UnsafeMutableRawPointer {
        try checkRequest(byteCount: byteCount, alignment: alignment)
        return try allocateFromCore(byteCount: byteCount, alignment: alignment, zeroed: true)
    }

    @inline(__always)
    private func checkRequest(byteCount: Int, alignment: Int) throws(ArenaError) {
        guard byteCount >= 0, byteCount <= Self.maxByteCount else { throw .invalidSize(byteCount) }
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= VirtualMemory.pageSize else {
            throw .invalidAlignment(alignment)
        }
    }

    /// An allocation under the lock (zero-filled when asked), the deferred work it makes due, and its sample.
    @inline(__always)
    private func allocateFromCore(byteCount: Int, alignment: Int, zeroed: Bool) throws(ArenaError) -> UnsafeMutableRawPointer {
        let address = try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> UInt in
            let a = try c.allocate(byteCount: byteCount, alignment: alignment)
            if zeroed { c.zeroFill(a, byteCount: byteCount) }
            c.pumpAfterCall()
            if c.wantsBackgroundDrain { requestBackgroundDrain() }
            publish(c)
            return a
        }
        heapSampler?.didAllocate(address, byteCount: byteCount)
        return UnsafeMutableRawPointer(bitPattern: address)!
    }

    /// Frees memory from ``allocate(byteCount:alignment:)``; `byteCount` must be the size it was allocated with.
    /// Freed pages go through the strategy, at most ``Configuration/maxReleaseBytesPerCall`` bytes in this call.
    public func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let address = UInt(bitPattern: pointer)
        // Before the address can be handed out again (by the core or a thread cache): a new sample there must not
        // be retired by this free.
        heapSampler?.willDeallocate(address)
        if threadCacheID != 0 && byteCount <= ThreadCache.maxBlockSize {
            return deallocateThroughThreadCache(pointer, byteCount: byteCount)
        }
        core.withLock { c in
            c.deallocate(address, byteCount: byteCount)
            c.pumpAfterCall()
            if c.wantsBackgroundDrain { requestBackgroundDrain() }
            publish(c)
        }
    }

    /// The bytes an allocation of `byteCount` (alignment ≤ 16) really occupies: its block size, or whole pages.
    public func reservedSize(forByteCount byteCount: Int) -> Int {
        if let c = SizeClasses.classIndex(byteCount: max(byteCount, 0), alignment: 16) { return SizeClasses.sizes[c] }
        let ps = VirtualMemory.pageSize
        return (byteCount + ps - 1) / ps * ps
    }

    /// The arena's books, read without taking the allocation lock.
    public var stats: ArenaStats { threadCacheID == 0 ? published.read() : statsWithThreadCaches() }

    /// Releases every idle page now (Go's `debug.FreeOSMemory`) with `strategy`, or the arena's own.
    ///
    /// `retain` releases nothing; `lazyFree` MADV_FREEs dirty runs; `dontNeed` and `decay` MADV_DONTNEED dirty
    /// and lazy runs; `freeThenPageOut` discards lazy runs with MADV_PAGEOUT and dirty runs with FREE+PAGEOUT;
    /// `unmap` unmaps every idle run (Sys falls to HeapInuse, up to 2 MiB rounding in huge-page mode).
    /// - Throws: ``ArenaError/unsupportedAdvice(_:)`` if the kernel refuses; runs not yet released stay as they were.
    @discardableResult
    public func release(using strategy: ReleaseStrategy? = nil) throws(ArenaError) -> ReleaseReport {
        let t0 = monotonicNanoseconds()
        flushCallingThreadCache()
        return try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> ReleaseReport in
            let used = strategy ?? c.strategy
            let calls0 = c.stats.madviseCalls + c.stats.munmapCalls
            defer { publish(c) }
            let bytes = try c.releaseAll(used)
            return ReleaseReport(
                releasedBytes: bytes, strategy: used.description, nanoseconds: monotonicNanoseconds() - t0,
                madviseCalls: c.stats.madviseCalls + c.stats.munmapCalls - calls0)
        }
    }

    /// Does the deferred release work that is due now (decay deadlines, the rest of large frees), at most
    /// `budgetBytes` (nil: all that is due). A service's scavenger can call this periodically.
    @discardableResult
    public func performDeferredWork(budgetBytes: Int? = nil) throws(ArenaError) -> ReleaseReport {
        let t0 = monotonicNanoseconds()
        return try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> ReleaseReport in
            let calls0 = c.stats.madviseCalls + c.stats.munmapCalls
            defer { publish(c) }
            c.autoSuspended = false
            let bytes = try c.pump(budget: budgetBytes)
            return ReleaseReport(
                releasedBytes: bytes, strategy: c.strategy.description, nanoseconds: monotonicNanoseconds() - t0,
                madviseCalls: c.stats.madviseCalls + c.stats.munmapCalls - calls0)
        }
    }

    /// The last error automatic (deferred) release met, if any. Automatic release pauses after an error until
    /// ``release(using:)``, ``performDeferredWork(budgetBytes:)`` or ``setStrategy(_:)``.
    public var lastDeferredError: ArenaError? { core.withLock { $0.lastDeferredError } }

    /// Resident bytes of the arena's mappings, measured with `mincore`.
    ///
    /// Lazily freed (MADV_FREE) pages count as resident here until the kernel reclaims them; the process's
    /// LazyFree figure comes from `/proc/self/smaps_rollup`.
    public func residentBytes() throws(ArenaError) -> Int {
        // mincore runs outside the allocation lock (it costs ~1 µs per 64 KiB probed): the ranges are copied under
        // the lock, and the figure is kept only if no munmap happened meanwhile (else a range may be gone or reused).
        for _ in 0..<3 {
            let unmapsBefore = stats.munmapCalls
            let ranges = core.withLock { $0.extents.ranges.map { (start: $0.start, byteCount: $0.byteCount) } }
            var total = 0
            var intact = true
            for r in ranges {
                do throws(VirtualMemoryError) {
                    total += try VirtualMemory.residentBytes(UnsafeMutableRawPointer(bitPattern: r.start)!, byteCount: r.byteCount)
                } catch {
                    intact = false
                    break
                }
            }
            if intact && stats.munmapCalls == unmapsBefore { return total }
        }
        return try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> Int in
            var total = 0
            for r in c.extents.ranges {
                do throws(VirtualMemoryError) {
                    total += try VirtualMemory.residentBytes(UnsafeMutableRawPointer(bitPattern: r.start)!, byteCount: r.byteCount)
                } catch {
                    throw .systemCallFailed(error)
                }
            }
            return total
        }
    }

    /// Requests beyond this are refused as ``ArenaError/invalidSize(_:)`` (no overflow in page arithmetic).
    static let maxByteCount = 1 << 46

    /// One bounded slice of background release work (BackgroundDrain.swift), under the allocation lock.
    func backgroundDrainSlice(now: Int) -> BackgroundWork {
        core.withLock { c in
            let released = c.backgroundSlice(now: now)
            if released > 0 { publish(c) }
            return c.backgroundWork(released: released)
        }
    }

    @inline(__always)
    func publish(_ c: borrowing ArenaCore) {
        published.publish(c.snapshot)
    }
}
