import MemProbeSystem

/// A page-run allocator over private anonymous memory that controls what happens to freed pages and keeps
/// exact Go-style books (``ArenaStats``).
///
/// - Address space comes in regions (`mmap` `MAP_NORESERVE`, ``Configuration/regionSize`` each; a larger
///   request gets a region of its own). Requests up to 2 KiB come from size-classed pages; larger ones get
///   whole page runs (best fit, preferring dirty, then lazily freed, then released runs, then new space).
/// - Freed pages go through the arena's ``ReleaseStrategy``. Work done inside `allocate`/`deallocate` is
///   bounded by ``Configuration/maxReleaseBytesPerCall``; the rest is done by later calls,
///   ``performDeferredWork(budgetBytes:)`` or ``release(using:)``.
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

        /// - Parameter maxReleaseBytesPerCall: nil for the default, 4 MiB of 4 KiB-page DONTNEED-equivalent work.
        public init(regionSize: Int = 64 << 20, hugePages: Bool = false, maxReleaseBytesPerCall: Int? = nil) {
            self.regionSize = max(regionSize, VirtualMemory.pageSize)
            self.hugePages = hugePages
            self.maxReleaseBytesPerCall = max(maxReleaseBytesPerCall ?? 4 << 20, VirtualMemory.pageSize)
        }
    }

    private let core: ArenaLock<ArenaCore>
    private let published = StatsPublisher()
    /// The strategy, for lock-free-ish reads that do not wait behind a long release (tiny lock, rarely written).
    private let currentStrategy: ArenaLock<ReleaseStrategy>
    /// The configuration the arena was created with.
    public let configuration: Configuration

    /// Creates an empty arena. No memory is mapped until the first allocation.
    public init(strategy: ReleaseStrategy = .dontNeed, configuration: Configuration = .init()) {
        // The properties are settable after `Configuration.init`: clamp again.
        var configuration = configuration
        configuration.regionSize = max(configuration.regionSize, VirtualMemory.pageSize)
        configuration.maxReleaseBytesPerCall = max(configuration.maxReleaseBytesPerCall, VirtualMemory.pageSize)
        self.configuration = configuration
        self.core = ArenaLock(ArenaCore(strategy: strategy, configuration: configuration))
        self.currentStrategy = ArenaLock(strategy)
    }

    deinit {
        core.withLock { $0.unmapAll() }
    }

    /// The process-wide arena. Its strategy comes from `MEMPROBE_RELEASE` (see ``ReleaseStrategy/init(parsing:)``),
    /// else ``ReleaseStrategy/dontNeed``. An invalid value stops the process at first use with the valid names:
    /// a misspelt setting must not silently run with the default.
    public static let shared: PageArena = {
        do {
            return PageArena(strategy: try ReleaseStrategy.fromEnvironment() ?? .dontNeed)
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
        guard byteCount >= 0, byteCount <= Self.maxByteCount else { throw .invalidSize(byteCount) }
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= VirtualMemory.pageSize else {
            throw .invalidAlignment(alignment)
        }
        let address = try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> UInt in
            let a = try c.allocate(byteCount: byteCount, alignment: alignment)
            c.pumpAfterCall()
            publish(c)
            return a
        }
        return UnsafeMutableRawPointer(bitPattern: address)!
    }

    /// Allocates `byteCount` bytes that read as zero (like `calloc`).
    ///
    /// Large allocations are zeroed by discarding their whole pages (MADV_DONTNEED, huge pages whole in a huge-page
    /// arena) rather than by writing, so their pages fault in as they are used; small ones are written. Counted in
    /// ``ArenaStats/zeroedAllocations``, ``ArenaStats/zeroedBytes`` and ``ArenaStats/zeroedByDiscardBytes``.
    /// Callers never advise arena memory themselves.
    public func allocateZeroed(byteCount: Int, alignment: Int = 16) throws(ArenaError) -> UnsafeMutableRawPointer {
        guard byteCount >= 0, byteCount <= Self.maxByteCount else { throw .invalidSize(byteCount) }
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= VirtualMemory.pageSize else {
            throw .invalidAlignment(alignment)
        }
        let address = try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> UInt in
            let a = try c.allocate(byteCount: byteCount, alignment: alignment)
            c.zeroFill(a, byteCount: byteCount)
            c.pumpAfterCall()
            publish(c)
            return a
        }
        return UnsafeMutableRawPointer(bitPattern: address)!
    }

    /// Frees memory from ``allocate(byteCount:alignment:)``; `byteCount` must be the size it was allocated with.
    /// Freed pages go through the strategy, at most ``Configuration/maxReleaseBytesPerCall`` bytes in this call.
    public func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let address = UInt(bitPattern: pointer)
        core.withLock { c in
            c.deallocate(address, byteCount: byteCount)
            c.pumpAfterCall()
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
    public var stats: ArenaStats { published.read() }

    /// Releases every idle page now (Go's `debug.FreeOSMemory`) with `strategy`, or the arena's own.
    ///
    /// `retain` releases nothing; `lazyFree` MADV_FREEs dirty runs; `dontNeed` and `decay` MADV_DONTNEED dirty
    /// and lazy runs; `freeThenPageOut` discards lazy runs with MADV_PAGEOUT and dirty runs with FREE+PAGEOUT;
    /// `unmap` unmaps every idle run (Sys falls to HeapInuse, up to 2 MiB rounding in huge-page mode).
    /// - Throws: ``ArenaError/unsupportedAdvice(_:)`` if the kernel refuses; runs not yet released stay as they were.
    @discardableResult
    public func release(using strategy: ReleaseStrategy? = nil) throws(ArenaError) -> ReleaseReport {
        let t0 = monotonicNanoseconds()
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
        try core.withLock { (c: inout ArenaCore) throws(ArenaError) -> Int in
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

    @inline(__always)
    private func publish(_ c: borrowing ArenaCore) {
        published.publish(c.snapshot)
    }
}
