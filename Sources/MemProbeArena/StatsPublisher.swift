import Synchronization

/// The last published ``ArenaStats``, readable without any lock: a sequence lock over relaxed atomics.
///
/// Only the holder of the arena's allocation lock writes (so writers never race each other); a reader retries
/// while a write is in progress or happened during its read, so every snapshot it returns is one whole
/// publication and satisfies the invariants. Every field is an atomic, so TSan sees no data race either.
///
/// No second list of the fields: ``ArenaStats`` is a row of `Int`s (``ArenaStats/fields``, checked at init), copied
/// word by word, so a field added to it is published without touching this file.
final class StatsPublisher: Sendable {
    /// Words of ``ArenaStats``.
    static let wordCount = MemoryLayout<ArenaStats>.size / MemoryLayout<Int>.stride
    private let sequence = Atomic<Int>(0)
    private let values: InlineArray<32, Atomic<Int>>

    init() {
        precondition(Self.wordCount == ArenaStats.fields.count && Self.wordCount <= 32
            && MemoryLayout<ArenaStats>.size == Self.wordCount * MemoryLayout<Int>.stride,
            "ArenaStats must be a row of at most 32 Ints, the ones ArenaStats.fields lists")
        values = InlineArray { _ in Atomic<Int>(0) }
    }

    /// Called with the allocation lock held.
    func publish(_ s: ArenaStats) {
        let seq = sequence.load(ordering: .relaxed)
        sequence.store(seq + 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        withUnsafeBytes(of: s) { raw in
            for i in 0..<Self.wordCount {
                values[i].store(raw.load(fromByteOffset: i * MemoryLayout<Int>.stride, as: Int.self), ordering: .relaxed)
            }
        }
        sequence.store(seq + 2, ordering: .releasing)
    }

    func read() -> ArenaStats {
        while true {
            let before = sequence.load(ordering: .acquiring)
            if before & 1 != 0 { continue }
            var s = ArenaStats()
            withUnsafeMutableBytes(of: &s) { raw in
                for i in 0..<Self.wordCount {
                    raw.storeBytes(of: values[i].load(ordering: .relaxed), toByteOffset: i * MemoryLayout<Int>.stride, as: Int.self)
                }
            }
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == before { return s }
        }
    }
}
