import Synchronization

/// The last published ``ArenaStats``, readable without any lock: a sequence lock over relaxed atomics.
///
/// Only the holder of the arena's allocation lock writes (so writers never race each other); a reader retries
/// while a write is in progress or happened during its read, so every snapshot it returns is one whole
/// publication and satisfies the invariants. Every field is an atomic, so TSan sees no data race either.
final class StatsPublisher: Sendable {
    private let sequence = Atomic<Int>(0)
    private let alloc = Atomic<Int>(0)
    private let heapInuse = Atomic<Int>(0)
    private let heapIdle = Atomic<Int>(0)
    private let heapReleased = Atomic<Int>(0)
    private let heapReleasedLazy = Atomic<Int>(0)
    private let heapReleasedDiscarded = Atomic<Int>(0)
    private let sys = Atomic<Int>(0)
    private let mmapCalls = Atomic<Int>(0)
    private let mmapBytes = Atomic<Int>(0)
    private let munmapCalls = Atomic<Int>(0)
    private let munmapBytes = Atomic<Int>(0)
    private let madviseCalls = Atomic<Int>(0)
    private let madviseBytes = Atomic<Int>(0)
    private let syscallNanoseconds = Atomic<Int>(0)

    init() {}

    /// Called with the allocation lock held.
    func publish(_ s: ArenaStats) {
        let seq = sequence.load(ordering: .relaxed)
        sequence.store(seq + 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        alloc.store(s.alloc, ordering: .relaxed)
        heapInuse.store(s.heapInuse, ordering: .relaxed)
        heapIdle.store(s.heapIdle, ordering: .relaxed)
        heapReleased.store(s.heapReleased, ordering: .relaxed)
        heapReleasedLazy.store(s.heapReleasedLazy, ordering: .relaxed)
        heapReleasedDiscarded.store(s.heapReleasedDiscarded, ordering: .relaxed)
        sys.store(s.sys, ordering: .relaxed)
        mmapCalls.store(s.mmapCalls, ordering: .relaxed)
        mmapBytes.store(s.mmapBytes, ordering: .relaxed)
        munmapCalls.store(s.munmapCalls, ordering: .relaxed)
        munmapBytes.store(s.munmapBytes, ordering: .relaxed)
        madviseCalls.store(s.madviseCalls, ordering: .relaxed)
        madviseBytes.store(s.madviseBytes, ordering: .relaxed)
        syscallNanoseconds.store(s.syscallNanoseconds, ordering: .relaxed)
        sequence.store(seq + 2, ordering: .releasing)
    }

    func read() -> ArenaStats {
        while true {
            let before = sequence.load(ordering: .acquiring)
            if before & 1 != 0 { continue }
            var s = ArenaStats()
            s.alloc = alloc.load(ordering: .relaxed)
            s.heapInuse = heapInuse.load(ordering: .relaxed)
            s.heapIdle = heapIdle.load(ordering: .relaxed)
            s.heapReleased = heapReleased.load(ordering: .relaxed)
            s.heapReleasedLazy = heapReleasedLazy.load(ordering: .relaxed)
            s.heapReleasedDiscarded = heapReleasedDiscarded.load(ordering: .relaxed)
            s.sys = sys.load(ordering: .relaxed)
            s.mmapCalls = mmapCalls.load(ordering: .relaxed)
            s.mmapBytes = mmapBytes.load(ordering: .relaxed)
            s.munmapCalls = munmapCalls.load(ordering: .relaxed)
            s.munmapBytes = munmapBytes.load(ordering: .relaxed)
            s.madviseCalls = madviseCalls.load(ordering: .relaxed)
            s.madviseBytes = madviseBytes.load(ordering: .relaxed)
            s.syscallNanoseconds = syscallNanoseconds.load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == before { return s }
        }
    }
}
