import CShims

/// glibc's `mallinfo2()`: the allocator's own view of its heap, in bytes (counts for `ordblks`, `smblks`, `hblks`).
///
/// Calling it walks the bins under the arena locks (ms on a fragmented heap): fine occasionally, not per sample.
/// It does not show what `malloc_trim` gave back to the kernel (see ``MallocHeap/trim(pad:)``).
public struct MallocInfo: Codable, Sendable, Hashable {
    /// Bytes obtained with `sbrk`/arena mmaps (non-mmapped space).
    public var arena: Int
    /// Number of free chunks.
    public var ordblks: Int
    /// Number of free fastbin blocks.
    public var smblks: Int
    /// Number of chunks allocated with their own `mmap`.
    public var hblks: Int
    /// Bytes in chunks allocated with their own `mmap`.
    public var hblkhd: Int
    /// Always 0 in glibc.
    public var usmblks: Int
    /// Bytes in freed fastbin blocks.
    public var fsmblks: Int
    /// Bytes in use by the program (allocated chunks).
    public var uordblks: Int
    /// Bytes free inside the heap (not necessarily returned to the kernel).
    public var fordblks: Int
    /// Bytes at the top of the heap that `free`/`malloc_trim` could release with `sbrk`.
    public var keepcost: Int

    /// Creates a value from fields.
    public init(
        arena: Int, ordblks: Int, smblks: Int, hblks: Int, hblkhd: Int, usmblks: Int, fsmblks: Int, uordblks: Int,
        fordblks: Int, keepcost: Int
    ) {
        self.arena = arena
        self.ordblks = ordblks
        self.smblks = smblks
        self.hblks = hblks
        self.hblkhd = hblkhd
        self.usmblks = usmblks
        self.fsmblks = fsmblks
        self.uordblks = uordblks
        self.fordblks = fordblks
        self.keepcost = keepcost
    }

    /// Bytes in use by the program: small chunks plus mmapped chunks.
    public var inUseBytes: Int { uordblks + hblkhd }
}

/// What `malloc_trim` did, measured by the kernel.
public struct MallocTrimResult: Codable, Sendable, Hashable {
    /// statm resident bytes just before the trim.
    public var residentBefore: Int
    /// statm resident bytes just after the trim.
    public var residentAfter: Int
    /// How long `malloc_trim` ran, in nanoseconds (threads sharing an arena stall that long).
    public var nanoseconds: Int

    /// Creates a value.
    public init(residentBefore: Int, residentAfter: Int, nanoseconds: Int) {
        self.residentBefore = residentBefore
        self.residentAfter = residentAfter
        self.nanoseconds = nanoseconds
    }

    /// residentBefore − residentAfter (may be negative when other threads allocated meanwhile).
    public var releasedBytes: Int { residentBefore - residentAfter }
}

/// The glibc malloc heap of the calling process.
public enum MallocHeap {
    /// `mallinfo2()` now.
    public static func info() -> MallocInfo {
        let m = cshims_mallinfo2()
        return MallocInfo(
            arena: Int(m.arena), ordblks: Int(m.ordblks), smblks: Int(m.smblks), hblks: Int(m.hblks),
            hblkhd: Int(m.hblkhd), usmblks: Int(m.usmblks), fsmblks: Int(m.fsmblks), uordblks: Int(m.uordblks),
            fordblks: Int(m.fordblks), keepcost: Int(m.keepcost))
    }

    /// Runs `malloc_trim(pad)` over all arenas and reports what resident memory did.
    ///
    /// glibc's return value is not returned: `1` only means "madvise was called at least once" (a second trim with
    /// nothing left to release still returns 1), and `mallinfo2` does not change either, so the only truthful
    /// figure is the process's RSS before and after, read here from `/proc/self/statm`.
    ///
    /// Trimming a fragmented 1 GiB heap takes ~0.2–0.3 s and blocks threads sharing the arena for that long:
    /// never call it on a latency-sensitive path.
    /// - Parameter pad: bytes to leave untrimmed at the top of the heap.
    public static func trim(pad: Int = 0) throws(ProcFileError) -> MallocTrimResult {
        let sampler = try StatmSampler(pid: nil)
        let before = try sampler.residentBytes()
        let clock = ContinuousClock()
        let start = clock.now
        _ = cshims_malloc_trim(max(0, pad))
        let elapsed = clock.now - start
        let after = try sampler.residentBytes()
        let (s, atto) = elapsed.components
        return MallocTrimResult(
            residentBefore: before, residentAfter: after, nanoseconds: Int(s) * 1_000_000_000 + Int(atto / 1_000_000_000))
    }
}
