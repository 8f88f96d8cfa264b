extension ArenaMap: ExpressibleByDictionaryLiteral {
    /// A map in the process-wide arena with the given pairs; duplicate keys are a programmer error, as for `Dictionary`.
    public init(dictionaryLiteral elements: (Key, Value)...) {
        self.init(minimumCapacity: elements.count)
        for (k, v) in elements {
            precondition(updateValue(v, forKey: k) == nil, "ArenaMap literal has duplicate key \(k)")
        }
    }
}

extension ArenaMap: Equatable where Value: Equatable {
    /// Same keys with equal values (entry order does not matter).
    public static func == (lhs: ArenaMap, rhs: ArenaMap) -> Bool {
        if lhs._storage === rhs._storage { return true }
        if lhs.count != rhs.count { return false }
        for (k, v) in lhs {
            guard let w = rhs[k], w == v else { return false }
        }
        return true
    }
}

extension ArenaMap: CustomStringConvertible, CustomDebugStringConvertible {
    /// `[key: value, …]` like `Dictionary`, in entry order; `[:]` when empty.
    public var description: String {
        if isEmpty { return "[:]" }
        var s = "["
        var first = true
        for (k, v) in self {
            if !first { s += ", " }
            first = false
            debugPrint(k, terminator: "", to: &s)
            s += ": "
            debugPrint(v, terminator: "", to: &s)
        }
        return s + "]"
    }

    public var debugDescription: String { "ArenaMap(\(description))" }
}

// Internal consistency checks exist only where they are switched on (debug builds define
// MEMPROBE_INTERNAL_CHECKS in Package.swift): no O(n) checker in a release library's API.
#if MEMPROBE_INTERNAL_CHECKS
extension ArenaMap {
    /// Checks every structural invariant and traps on the first violation (used by the tests; O(n)).
    ///
    /// Every entry has exactly one index slot, in the table its hash leads to, and the slot's hash matches the key;
    /// no slot points past `count`; loads are within bounds; the bytes held match the allocations.
    package func _checkInvariants() {
        let s = _storage
        precondition(s.count >= 0 && s.count <= s.entryCapacity, "count beyond capacity")
        precondition(s.chunkCount <= 1 || s.firstChunkCapacity == s.chunkCapacity, "chunk 0 not full-size with several chunks")
        if s.count > 0 { precondition(s.table != nil, "entries but no index") }
        var seen = [Int](repeating: 0, count: s.count)
        var slotCount = 0
        func scan(_ t: UnsafeMutablePointer<UInt64>?, _ mask: Int, old: Bool) {
            guard let t else { return }
            for b in 0...mask {
                let slot = t[b]
                if slot == 0 { continue }
                if slot & 0xFFFF_FFFF == 0xFFFF_FFFF {
                    precondition(old, "tombstone in the live table")
                    continue
                }
                let e = Int(slot & 0xFFFF_FFFF) - 1
                precondition(e >= 0 && e < s.count, "slot points past count: \(e) of \(s.count)")
                seen[e] += 1
                slotCount += 1
                let h = s.hash32(s.entry(e).pointee.key)
                precondition(UInt32(truncatingIfNeeded: slot >> 32) == h, "slot hash does not match its key")
                // Reachable: no empty slot between the home bucket and b.
                var i = Int(h) & mask
                while i != b {
                    precondition(t[i] != 0, "slot not reachable from its home bucket")
                    i = (i + 1) & mask
                }
            }
        }
        scan(s.table, s.tableMask, old: false)
        scan(s.oldTable, s.oldMask, old: true)
        precondition(slotCount == s.count, "\(slotCount) slots for \(s.count) entries")
        precondition(seen.allSatisfy { $0 == 1 }, "an entry has no slot or several")
        if s.table != nil { precondition(s.count <= s.tableCapacity - s.tableCapacity / 4 || s.oldTable != nil, "index over 3/4 load") }
        for i in 0..<s.count { precondition(s.find(s.entry(i).pointee.key, s.hash32(s.entry(i).pointee.key)) == i, "lookup misses entry \(i)") }
        if _MapStorage<Key, Value>.storesHashes {
            for i in 0..<s.count { precondition(s.storedHash(i).pointee == s.hash32(s.entry(i).pointee.key), "stored hash of entry \(i) is stale") }
        }
        var expected = 0
        let a = s.allocator
        if s.chunks != nil {
            expected += a.reservedSize(forByteCount: s.directoryCapacity * MemoryLayout<UnsafeMutableRawPointer>.stride)
            for c in 0..<s.chunkCount {
                let n = c == 0 ? s.firstChunkCapacity : s.chunkCapacity
                expected += a.reservedSize(forByteCount: _MapStorage<Key, Value>.chunkBytes(entries: n))
            }
        }
        if s.table != nil { expected += a.reservedSize(forByteCount: s.tableCapacity * 8) }
        if s.oldTable != nil { expected += a.reservedSize(forByteCount: (s.oldMask + 1) * 8) }
        precondition(expected == s.heldBytes, "heldBytes \(s.heldBytes) but allocations add up to \(expected)")
    }
}
#endif
