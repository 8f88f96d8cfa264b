import MemProbe
import Synchronization

/// The cache's storage: keys to variable-length byte strings. Implementations are thread-safe.
protocol KVStore: Sendable {
    /// Stores a copy of `bytes` under `key`; true when it replaced a value.
    func put(_ key: String, _ bytes: UnsafeRawBufferPointer) -> Bool
    /// Calls `body` with the value's bytes (valid only during the call, under the store's lock), nil when absent.
    func withValue<R: Sendable>(_ key: String, _ body: (UnsafeRawBufferPointer) -> R) -> R?
    /// Removes the value; true when there was one.
    func delete(_ key: String) -> Bool
    /// Removes every value but `keep` of them: every `stride`-th in the store's order (1: the first `keep`);
    /// returns how many were removed.
    func evict(keep: Int, stride: Int) -> Int
    /// Number of values and the sum of their lengths.
    var counts: (items: Int, valueBytes: Int) { get }
}

/// Values live in a PageArena: one arena allocation per value (the map's slot holds address and length), so the
/// arena really holds the data and its release strategy and the governor decide when the pages go back.
final class ArenaKVStore: KVStore {
    struct Slot {
        var address: UInt
        var count: Int
    }

    struct State: ~Copyable {
        var map: ArenaMap<String, Slot>
        var valueBytes = 0
        /// PUTs and DELETEs so far (the compactor waits for a quiet store).
        var mutations = 0
    }

    let arena: PageArena
    let state: Mutex<State>

    init(arena: PageArena) {
        self.arena = arena
        state = Mutex(State(map: ArenaMap(arena: arena)))
    }

    deinit {
        state.withLock { s in
            for (_, slot) in s.map { free(slot) }
        }
    }

    private func free(_ slot: Slot) {
        arena.deallocate(UnsafeMutableRawPointer(bitPattern: slot.address)!, byteCount: Swift.max(slot.count, 1))
    }

    func put(_ key: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        // Allocate and copy outside the lock (the arena has its own); only the map update is under ours.
        let size = Swift.max(bytes.count, 1)
        let p: UnsafeMutableRawPointer
        do { p = try arena.allocate(byteCount: size) } catch { fatalError("kvcache: arena allocation failed: \(error)") }
        if let base = bytes.baseAddress, bytes.count > 0 { p.copyMemory(from: base, byteCount: bytes.count) }
        let slot = Slot(address: UInt(bitPattern: p), count: bytes.count)
        let old = state.withLock { s -> Slot? in
            let old = s.map.updateValue(slot, forKey: key)
            s.valueBytes += bytes.count - (old?.count ?? 0)
            s.mutations &+= 1
            return old
        }
        if let old { free(old) }
        return old != nil
    }

    func withValue<R: Sendable>(_ key: String, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        state.withLock { s in
            guard let slot = s.map[key] else { return nil }
            return body(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: slot.address), count: slot.count))
        }
    }

    func delete(_ key: String) -> Bool {
        let old = state.withLock { s -> Slot? in
            let old = s.map.removeValue(forKey: key)
            s.valueBytes -= old?.count ?? 0
            s.mutations &+= 1
            return old
        }
        if let old { free(old) }
        return old != nil
    }

    func evict(keep: Int, stride: Int) -> Int {
        let victims = state.withLock { s -> [Slot] in
            guard s.map.count > keep else { return [] }
            let keys = Self.victims(Array(s.map.keys), keep: keep, stride: stride)
            var slots: [Slot] = []
            slots.reserveCapacity(keys.count)
            for k in keys {
                if let old = s.map.removeValue(forKey: k) {
                    s.valueBytes -= old.count
                    s.mutations &+= 1
                    slots.append(old)
                }
            }
            return slots
        }
        for slot in victims { free(slot) }
        return victims.count
    }

    var counts: (items: Int, valueBytes: Int) { state.withLock { ($0.map.count, $0.valueBytes) } }

    /// PUTs and DELETEs so far.
    var mutations: Int { state.withLock { $0.mutations } }

    /// The keys to remove so that `keep` remain: every `stride`-th key is kept until `keep` are.
    static func victims(_ keys: [String], keep: Int, stride: Int) -> [String] {
        var kept = 0
        var out: [String] = []
        out.reserveCapacity(Swift.max(0, keys.count - keep))
        for (i, k) in keys.enumerated() {
            if kept < keep && i % stride == 0 { kept += 1 } else { out.append(k) }
        }
        return out
    }
}

/// The baseline: a Swift `Dictionary` of `[UInt8]` (one malloc allocation per value).
final class DictionaryKVStore: KVStore {
    struct State {
        var map: [String: [UInt8]] = [:]
        var valueBytes = 0
    }

    private let state = Mutex(State())

    func put(_ key: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let value = [UInt8](bytes)
        return state.withLock { s in
            let old = s.map.updateValue(value, forKey: key)
            s.valueBytes += value.count - (old?.count ?? 0)
            return old != nil
        }
    }

    func withValue<R: Sendable>(_ key: String, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        // The array is copied out by reference (copy-on-write), so the caller's work runs outside the lock.
        guard let value = state.withLock({ $0.map[key] }) else { return nil }
        return value.withUnsafeBytes(body)
    }

    func delete(_ key: String) -> Bool {
        let old = state.withLock { s in
            let old = s.map.removeValue(forKey: key)
            s.valueBytes -= old?.count ?? 0
            return old
        }
        return old != nil
    }

    func evict(keep: Int, stride: Int) -> Int {
        state.withLock { s in
            guard s.map.count > keep else { return 0 }
            let keys = ArenaKVStore.victims(Array(s.map.keys), keep: keep, stride: stride)
            for k in keys { s.valueBytes -= s.map.removeValue(forKey: k)?.count ?? 0 }
            return keys.count
        }
    }

    var counts: (items: Int, valueBytes: Int) { state.withLock { ($0.map.count, $0.valueBytes) } }
}
