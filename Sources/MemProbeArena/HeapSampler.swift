import CShims
import MemProbeSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One interned call stack with the sampled allocations made from it, as unbiased estimates of the true totals.
package struct HeapSampleStack: Sendable, Hashable {
    /// Return addresses, innermost first, as captured (the sampler's own frames included; the profile drops them).
    package var frames: [UInt]
    /// Estimated allocations and bytes made from this stack since the arena started sampling.
    package var allocObjects: Double
    package var allocBytes: Double
    /// Estimated allocations and bytes from this stack still live.
    package var inuseObjects: Double
    package var inuseBytes: Double

    package init(frames: [UInt], allocObjects: Double, allocBytes: Double, inuseObjects: Double, inuseBytes: Double) {
        self.frames = frames
        self.allocObjects = allocObjects
        self.allocBytes = allocBytes
        self.inuseObjects = inuseObjects
        self.inuseBytes = inuseBytes
    }
}

/// A sampled live allocation: its stack, size and weight (1 / sampling probability).
private struct LiveSample {
    var address: UInt  // 0: empty slot
    var stack: Int32
    var size: Int
    var weight: Double
}

/// An interned stack: where its frames are, and its running estimates.
private struct StackRecord {
    var hash: UInt64
    var frameStart: Int
    var depth: Int
    var allocObjects: Double
    var allocBytes: Double
    var inuseObjects: Double
    var inuseBytes: Double
}

/// Byte-based Poisson sampling of one arena's allocations, for heap profiles.
///
/// Each allocation of `s` bytes is sampled with probability `p(s) = 1 − exp(−s / meanInterval)`: a per-thread
/// countdown (`cshims_heap_sample_tick`) drawn from Exp(1) and consumed by `s / meanInterval` per allocation. A
/// sampled allocation records its stack (libunwind `unw_backtrace`, at most 64 frames, interned: one copy per
/// distinct stack) and counts as `1 / p(s)` objects and `s / p(s)` bytes (the inverse-probability estimate, unbiased
/// for every size). Freeing it moves that weight out of the stack's in-use figures.
///
/// Locking: the sampler has its own mutex, taken after the arena's lock has been released (allocate) or before it is
/// taken (deallocate), never nested with it. Storage is mmap'ed (`MappedBuffer`), never malloc or an arena. The
/// deallocate path reads a small counting filter without the lock; only a likely-sampled address takes it.
package final class HeapSampler: @unchecked Sendable {
    /// Mean bytes between samples.
    package let meanInterval: Int
    private let costPerByte: Double
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    private var live: MappedBuffer<LiveSample>
    private var liveCount = 0
    private var records = MappedBuffer<StackRecord>()
    private var recordCount = 0
    /// Open-addressed index into `records` (record index + 1; 0 = empty).
    private var stackIndex: MappedBuffer<Int32>
    private var frames = MappedBuffer<UInt>()
    private var frameCount = 0
    /// Counting filter over live sampled addresses, read without the lock by `deallocate`.
    private let filter: MappedBuffer<UInt32>
    private static let filterBits = 14
    /// Samples lost because the sampler could not map more table space, or the stack could not be walked.
    private var dropped = 0

    /// A sampler with `meanInterval` bytes between samples on average, or nil when its tables cannot be mapped.
    package init?(meanInterval: Int) {
        precondition(meanInterval > 0, "a sampler needs a positive interval")
        guard let live = MappedBuffer<LiveSample>.zeroed(count: 1024),
              let index = MappedBuffer<Int32>.zeroed(count: 1024),
              let filter = MappedBuffer<UInt32>.zeroed(count: 1 << Self.filterBits) else { return nil }
        self.meanInterval = meanInterval
        self.costPerByte = 1.0 / Double(meanInterval)
        self.live = live
        self.stackIndex = index
        self.filter = filter
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        HeapSamplerRegistry.add(self)
    }

    deinit {
        HeapSamplerRegistry.remove(self)
        live.release()
        records.release()
        stackIndex.release()
        frames.release()
        var f = filter
        f.release()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    // MARK: - Hot path (called by PageArena outside its lock)

    /// Called after every successful allocation. Almost always one subtraction on a thread-local.
    @inline(__always)
    package func didAllocate(_ address: UInt, byteCount: Int) {
        guard cshims_heap_sample_tick_inline(Double(byteCount) * costPerByte) != 0 else { return }
        record(address, byteCount: byteCount)
    }

    /// Called before every deallocation (before the address can be handed out again).
    @inline(__always)
    package func willDeallocate(_ address: UInt) {
        guard cshims_atomic_load_u32(filter.base! + Self.filterSlot(address)) != 0 else { return }
        retire(address)
    }

    /// The probability that an allocation of `size` bytes is sampled.
    package func samplingProbability(size: Int) -> Double {
        -expm1(-Double(size) * costPerByte)
    }

    @inline(__always)
    private static func filterSlot(_ address: UInt) -> Int {
        Int(truncatingIfNeeded: (UInt64(address) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - filterBits))
    }

    @inline(never)
    private func record(_ address: UInt, byteCount: Int) {
        let p = samplingProbability(size: byteCount)
        guard p > 0 else { return }
        let weight = 1 / p
        var buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>? = nil
        let depth = Int(cshims_heap_sample_stack(&buffer))
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard depth > 0, let buffer else {
            dropped += 1
            return
        }
        let stackFrames = UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt.self)
        guard let stack = intern(UnsafeBufferPointer(start: stackFrames, count: depth)),
              reserveLiveSlot() else {
            dropped += 1
            return
        }
        records.base![stack].allocObjects += weight
        records.base![stack].allocBytes += Double(byteCount) * weight
        records.base![stack].inuseObjects += weight
        records.base![stack].inuseBytes += Double(byteCount) * weight
        let mask = live.capacity - 1
        var i = Self.hashAddress(address) & mask
        while live[i].address != 0 && live[i].address != address { i = (i + 1) & mask }
        if live[i].address == address {
            // A stale record at this address (never freed through this arena): retire it first.
            retireRecord(at: i)
            i = Self.hashAddress(address) & mask
            while live[i].address != 0 { i = (i + 1) & mask }
        }
        live[i] = LiveSample(address: address, stack: Int32(stack), size: byteCount, weight: weight)
        liveCount += 1
        cshims_atomic_add_u32(filter.base! + Self.filterSlot(address), 1)
    }

    @inline(never)
    private func retire(_ address: UInt) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let mask = live.capacity - 1
        var i = Self.hashAddress(address) & mask
        while live[i].address != 0 {
            if live[i].address == address {
                retireRecord(at: i)
                return
            }
            i = (i + 1) & mask
        }
    }

    /// Removes the live sample in slot `i` (backward-shift deletion: no tombstones).
    private func retireRecord(at slot: Int) {
        let s = live[slot]
        records.base![Int(s.stack)].inuseObjects -= s.weight
        records.base![Int(s.stack)].inuseBytes -= Double(s.size) * s.weight
        cshims_atomic_add_u32(filter.base! + Self.filterSlot(s.address), -1)
        liveCount -= 1
        let mask = live.capacity - 1
        var hole = slot
        var j = (slot + 1) & mask
        while live[j].address != 0 {
            let home = Self.hashAddress(live[j].address) & mask
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let inRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !inRange {
                live[hole] = live[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        live[hole] = LiveSample(address: 0, stack: 0, size: 0, weight: 0)
    }

    /// Makes room for one more live sample (load ≤ 1/2).
    private func reserveLiveSlot() -> Bool {
        guard (liveCount + 1) * 2 > live.capacity else { return true }
        guard var bigger = MappedBuffer<LiveSample>.zeroed(count: live.capacity * 2) else { return false }
        let mask = bigger.capacity - 1
        // capacity must stay a power of two for masking.
        precondition(bigger.capacity & (bigger.capacity - 1) == 0)
        for k in 0..<live.capacity where live[k].address != 0 {
            var i = Self.hashAddress(live[k].address) & mask
            while bigger[i].address != 0 { i = (i + 1) & mask }
            bigger[i] = live[k]
        }
        live.release()
        live = bigger
        return true
    }

    @inline(__always)
    private static func hashAddress(_ a: UInt) -> Int {
        var x = UInt64(a)
        x ^= x >> 33
        x &*= 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        return Int(truncatingIfNeeded: x)
    }

    private static func hashFrames(_ f: UnsafeBufferPointer<UInt>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for a in f {
            h = (h ^ UInt64(a)) &* 0x0000_0100_0000_01b3
            h ^= h >> 29
        }
        return h | 1
    }

    /// The record index of this stack, adding it if new. nil when the tables cannot grow.
    private func intern(_ f: UnsafeBufferPointer<UInt>) -> Int? {
        let h = Self.hashFrames(f)
        var mask = stackIndex.capacity - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while stackIndex[i] != 0 {
            let r = Int(stackIndex[i]) - 1
            let rec = records[r]
            if rec.hash == h && rec.depth == f.count
                && memcmp(frames.base! + rec.frameStart, f.baseAddress!, f.count * MemoryLayout<UInt>.stride) == 0 {
                return r
            }
            i = (i + 1) & mask
        }
        guard records.grow(toAtLeast: recordCount + 1), frames.grow(toAtLeast: frameCount + f.count) else { return nil }
        if (recordCount + 1) * 2 > stackIndex.capacity {
            guard let bigger = MappedBuffer<Int32>.zeroed(count: stackIndex.capacity * 2) else { return nil }
            mask = bigger.capacity - 1
            for r in 0..<recordCount {
                var k = Int(truncatingIfNeeded: records[r].hash) & mask
                while bigger[k] != 0 { k = (k + 1) & mask }
                bigger[k] = Int32(r + 1)
            }
            stackIndex.release()
            stackIndex = bigger
            i = Int(truncatingIfNeeded: h) & mask
            while stackIndex[i] != 0 { i = (i + 1) & mask }
        }
        (frames.base! + frameCount).update(from: f.baseAddress!, count: f.count)
        records[recordCount] = StackRecord(
            hash: h, frameStart: frameCount, depth: f.count, allocObjects: 0, allocBytes: 0, inuseObjects: 0, inuseBytes: 0)
        frameCount += f.count
        recordCount += 1
        stackIndex[i] = Int32(recordCount)
        return recordCount - 1
    }

    // MARK: - Reading (profile writers; allocates, never called from the hot path)

    /// Every interned stack with its estimates (in-use figures clamped at zero against rounding).
    package func stacks() -> [HeapSampleStack] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var out: [HeapSampleStack] = []
        out.reserveCapacity(recordCount)
        for r in 0..<recordCount {
            let rec = records[r]
            let f = Array(UnsafeBufferPointer(start: frames.base! + rec.frameStart, count: rec.depth))
            out.append(HeapSampleStack(
                frames: f, allocObjects: rec.allocObjects, allocBytes: rec.allocBytes,
                inuseObjects: max(rec.inuseObjects, 0), inuseBytes: max(rec.inuseBytes, 0)))
        }
        return out
    }

    /// Live sampled allocations, samples lost, and the sampler's own mapped bytes.
    package var counters: (liveSamples: Int, stacks: Int, dropped: Int, mappedBytes: Int) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return (liveCount, recordCount, dropped,
                live.bytes + records.bytes + stackIndex.bytes + frames.bytes + filter.bytes)
    }

    /// Takes a sample now regardless of the countdown: the whole cost of one sample (unwind + record), for the
    /// benchmark. Retire it with ``willDeallocate(_:)``.
    @inline(never)
    package func sampleNow(address: UInt, byteCount: Int) { record(address, byteCount: byteCount) }

    /// Records a sample with a given stack (benchmarks and tests of the profile writer: many distinct stacks
    /// without building them on the real stack). Same path as a real sample after the unwind.
    package func recordForTesting(address: UInt, byteCount: Int, frames stack: [UInt]) {
        let p = samplingProbability(size: byteCount)
        let weight = 1 / p
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let r: Int? = stack.withUnsafeBufferPointer { intern($0) }
        guard let stackIndex = r, reserveLiveSlot() else { dropped += 1; return }
        records.base![stackIndex].allocObjects += weight
        records.base![stackIndex].allocBytes += Double(byteCount) * weight
        records.base![stackIndex].inuseObjects += weight
        records.base![stackIndex].inuseBytes += Double(byteCount) * weight
        let mask = live.capacity - 1
        var i = Self.hashAddress(address) & mask
        while live[i].address != 0 { i = (i + 1) & mask }
        live[i] = LiveSample(address: address, stack: Int32(stackIndex), size: byteCount, weight: weight)
        liveCount += 1
        cshims_atomic_add_u32(filter.base! + Self.filterSlot(address), 1)
    }
}

/// Every live sampler in the process (weakly held), for a whole-process profile.
package enum HeapSamplerRegistry {
    private final class Entry: @unchecked Sendable {
        weak var sampler: HeapSampler?
        let id: ObjectIdentifier
        init(_ s: HeapSampler) { sampler = s; id = ObjectIdentifier(s) }
    }
    private static let entries = ArenaLock<[Entry]>([])

    static func add(_ s: HeapSampler) { entries.withLock { $0.append(Entry(s)) } }

    static func remove(_ s: HeapSampler) {
        let id = ObjectIdentifier(s)
        entries.withLock { $0.removeAll { $0.id == id || $0.sampler == nil } }
    }

    /// The samplers of every arena alive now.
    package static func all() -> [HeapSampler] {
        entries.withLock { $0.compactMap { $0.sampler } }
    }
}

extension HeapSampler {
    private static func loadLibunwind() -> BacktraceError? {
        do throws(BacktraceError) { try Backtrace.prepare() } catch { return error }
        return nil
    }

    /// The sampler for an arena with this interval, and the arena's profiling status. libunwind missing (or the
    /// tables unmappable) → no sampler, a status saying why, and an arena that works unchanged.
    /// - Parameter loadUnwinder: loads libunwind (a test passes a failing one to see the "missing" path).
    package static func make(
        interval: Int, loadUnwinder: () -> BacktraceError? = HeapSampler.loadLibunwind
    ) -> (HeapSampler?, HeapProfileStatus) {
        guard interval > 0 else { return (nil, .off) }
        if let error = loadUnwinder() {
            return (nil, .unavailable(reason: "heap profiling needs libunwind: \(error)"))
        }
        guard let s = HeapSampler(meanInterval: interval) else {
            return (nil, .unavailable(reason: "could not map the heap sampler's tables"))
        }
        return (s, .sampling(interval: interval))
    }
}
