/// A hash map keyed by page-aligned, nonzero addresses: open addressing with linear probing, Fibonacci hashing
/// of the page number and backward-shift deletion (no tombstones).
///
/// Replaces `Dictionary` on the arena's hot paths: Swift's per-process seeded SipHash made hashing a third of
/// the time of an alloc/free pair, and addresses need no protection against chosen-key flooding.
struct AddressTable<Value> {
    private var keys: [UInt]
    private var values: [Value?]
    private var shift: Int
    private(set) var count = 0

    init() {
        keys = Array(repeating: 0, count: 16)
        values = Array(repeating: nil, count: 16)
        shift = 64 - 4
    }

    private var mask: Int { keys.count - 1 }

    @inline(__always)
    private func home(_ key: UInt) -> Int {
        Int(truncatingIfNeeded: ((key >> 12) &* 0x9E37_79B9_7F4A_7C15) >> UInt(shift))
    }

    /// The slot holding `key`, if present.
    @inline(__always)
    func slot(forKey key: UInt) -> Int? {
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return i }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// The value in an occupied slot, in place.
    subscript(slot slot: Int) -> Value {
        get { values[slot]! }
        _modify { yield &values[slot]! }
    }

    /// In-place access to the value in an occupied slot.
    @inline(__always)
    mutating func withValue<R>(slot: Int, _ body: (inout Value) -> R) -> R {
        body(&values[slot]!)
    }

    /// The value of a key that must be present, in place (one probe, no copy-out/copy-in).
    subscript(existing key: UInt) -> Value {
        get { values[slot(forKey: key)!]! }
        _modify {
            let i = slot(forKey: key)!
            yield &values[i]!
        }
    }

    subscript(key: UInt) -> Value? {
        get { slot(forKey: key).map { values[$0]! } }
        set {
            if let v = newValue { insert(key, v) } else { _ = removeValue(forKey: key) }
        }
    }

    mutating func insert(_ key: UInt, _ value: Value) {
        precondition(key != 0)
        if (count + 1) * 2 > keys.count { resize(keys.count * 2) }
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { values[i] = value; return }
            if k == 0 {
                keys[i] = key
                values[i] = value
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    @discardableResult
    mutating func removeValue(forKey key: UInt) -> Value? {
        guard var hole = slot(forKey: key) else { return nil }
        let removed = values[hole]
        keys[hole] = 0
        values[hole] = nil
        count -= 1
        // Backward-shift: pull later entries of the probe run into the hole when their home allows it.
        var i = (hole + 1) & mask
        while keys[i] != 0 {
            let h = home(keys[i])
            // Entry at i may move to hole if hole lies cyclically in [h, i).
            let distToHole = (hole - h) & mask
            let distToI = (i - h) & mask
            if distToHole < distToI {
                keys[hole] = keys[i]
                values[hole] = values[i]
                keys[i] = 0
                values[i] = nil
                hole = i
            }
            i = (i + 1) & mask
        }
        if keys.count > 64 && count * 8 < keys.count { resize(keys.count / 2) }
        return removed
    }

    private mutating func resize(_ capacity: Int) {
        let oldKeys = keys
        var oldValues = values
        keys = Array(repeating: 0, count: capacity)
        values = Array(repeating: nil, count: capacity)
        shift = 64 - capacity.trailingZeroBitCount
        count = 0
        for j in oldKeys.indices where oldKeys[j] != 0 {
            insert(oldKeys[j], oldValues[j].take()!)
        }
    }

    /// Every (key, value) pair, in no particular order.
    func forEach(_ body: (UInt, Value) -> Void) {
        for j in keys.indices where keys[j] != 0 { body(keys[j], values[j]!) }
    }

    var allKeys: [UInt] { keys.filter { $0 != 0 } }
}
