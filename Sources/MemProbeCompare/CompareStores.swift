import MemProbeSystem

/// The map operations a `memprobe compare` scenario performs, one implementation per kind of contender.
protocol CompareStore {
    /// Inserts (or overwrites) `key` with a value whose bytes are all `fill`.
    mutating func insert(key: Int, fill: UInt8)
    /// Removes `key`; returns one byte of the removed value (0 when absent).
    mutating func remove(key: Int) -> UInt8
    var count: Int { get }
    /// Drops the map (the equivalent of Go's `m = nil`): its storage goes back to the allocator.
    mutating func drop()
    /// Copies the live entries into a new map and drops the old one (the article's "eviction").
    mutating func copySurvivors()
    /// The force-release step; returns the nanoseconds it took, nil when the contender has none.
    mutating func forceRelease() -> Int?
    /// Writes the allocator's figures into `record`.
    func allocatorFigures(into record: inout CompareRecord)
    /// Deferred release work a scavenger would do between phases; returns its nanoseconds, nil when none.
    mutating func tick() -> Int?
}

extension CompareStore {
    mutating func tick() -> Int? { nil }
}

/// glibc's figures: alloc = uordblks + hblkhd (live bytes, mmapped chunks included), sys = arena + hblkhd.
func mallocFigures(into record: inout CompareRecord) {
    let m = MallocHeap.info()
    record.alloc = m.uordblks + m.hblkhd
    record.sys = m.arena + m.hblkhd
}

/// `malloc_trim(0)` timed (the trim call alone, not the RSS reads around it).
func timedMallocTrim() -> Int {
    let start = monotonicNanoseconds()
    if let result = try? MallocHeap.trim(pad: 0) { return result.nanoseconds }
    return monotonicNanoseconds() - start
}

/// `Dictionary<Int, P>`: values inline in the hash table's storage.
struct DictionaryStore<P: ComparePayload>: CompareStore {
    var map: [Int: P] = [:]
    let trims: Bool

    mutating func insert(key: Int, fill: UInt8) { map[key] = P(fill: fill) }
    mutating func remove(key: Int) -> UInt8 { map.removeValue(forKey: key)?.firstByte ?? 0 }
    var count: Int { map.count }
    mutating func drop() { map = [:] }
    mutating func copySurvivors() {
        var fresh: [Int: P] = [:]
        for (k, v) in map { fresh[k] = v }
        map = fresh
    }
    mutating func forceRelease() -> Int? { trims ? timedMallocTrim() : nil }
    func allocatorFigures(into record: inout CompareRecord) { mallocFigures(into: &record) }
}

/// `Dictionary<Int, Box>`: one malloc'd heap object of `valueSize` bytes per value.
struct BoxedDictionaryStore: CompareStore {
    typealias Box = ManagedBuffer<Int, UInt8>
    var map: [Int: Box] = [:]
    let valueSize: Int
    let trims: Bool

    mutating func insert(key: Int, fill: UInt8) {
        let size = valueSize
        let box = Box.create(minimumCapacity: size) { _ in size }
        box.withUnsafeMutablePointerToElements { $0.initialize(repeating: fill, count: size) }
        map[key] = box
    }
    mutating func remove(key: Int) -> UInt8 {
        map.removeValue(forKey: key)?.withUnsafeMutablePointerToElements { $0.pointee } ?? 0
    }
    var count: Int { map.count }
    mutating func drop() { map = [:] }
    mutating func copySurvivors() {
        var fresh: [Int: Box] = [:]
        for (k, v) in map { fresh[k] = v }
        map = fresh
    }
    mutating func forceRelease() -> Int? { trims ? timedMallocTrim() : nil }
    func allocatorFigures(into record: inout CompareRecord) { mallocFigures(into: &record) }
}
