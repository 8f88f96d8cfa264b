import MemProbeArena

/// A hash map with `Dictionary`'s API whose memory lives in a ``PageArena`` and leaves the process as the map shrinks.
///
/// Entries sit densely in fixed-size chunks of arena pages and never move when the map grows (a 1 KiB value is
/// written once); removing an entry moves the last one into its place, so emptied tail chunks go back to the arena,
/// which releases them by its ``ReleaseStrategy``. An index table over the entries is resized incrementally, a
/// bounded number of slots per mutation, so no single insert or remove pays for the whole table.
///
/// Value semantics with copy-on-write, like `Dictionary`. Indices and iteration order are the entry order, which
/// removals change (the last entry fills the hole). Each value is deinitialized exactly once; dropping the last copy
/// returns every chunk and table to the arena.
///
/// ```swift
/// var sessions = ArenaMap<Int, Session>(arena: PageArena(strategy: .dontNeed))
/// sessions[id] = session
/// sessions[id] = nil          // removes; memory follows the live size down
/// print(sessions.memoryStats) // live bytes, arena bytes held, capacity, load
/// ```
public struct ArenaMap<Key: Hashable, Value> {
    @usableFromInline
    internal var _storage: _MapStorage<Key, Value>

    @inlinable
    internal init(_storage: _MapStorage<Key, Value>) { self._storage = _storage }

    /// An empty map in the process-wide arena (``PageArena/shared``).
    @inlinable
    public init() {
        self.init(_storage: _MapStorage(allocator: _ArenaAllocator(._defaultForMaps)))
    }

    /// An empty map in the process-wide arena with room for `minimumCapacity` entries.
    @inlinable
    public init(minimumCapacity: Int) {
        self.init(arena: ._defaultForMaps, minimumCapacity: minimumCapacity)
    }

    /// An empty map whose memory comes from `arena` (which many maps may share, from any thread).
    ///
    /// - Parameter minimumCapacity: entries to make room for up front (entry chunks and index).
    @inlinable
    public init(arena: PageArena, minimumCapacity: Int = 0) {
        precondition(minimumCapacity >= 0, "ArenaMap: negative capacity")
        self.init(_storage: _MapStorage(allocator: _ArenaAllocator(arena)))
        if minimumCapacity > 0 { _storage.reserve(minimumCapacity) }
    }

    /// The arena this map's memory comes from.
    public var arena: PageArena { _storage.allocator.arena }

    @inlinable @inline(__always)
    internal mutating func _makeUnique() {
        if !isKnownUniquelyReferenced(&_storage) { _storage = _storage.copy() }
    }

    // MARK: Size

    /// The number of key-value pairs.
    @inlinable
    public var count: Int { _storage.count }

    /// Whether the map is empty.
    @inlinable
    public var isEmpty: Bool { _storage.count == 0 }

    /// Entries the map can hold before it allocates another chunk.
    @inlinable
    public var capacity: Int { _storage.entryCapacity }

    // MARK: Lookup

    /// The value for `key`, or nil. Setting nil removes the key.
    @inlinable
    public subscript(key: Key) -> Value? {
        @inline(__always) get {
            let s = _storage
            let i = s.find(key, s.hash32(key))
            if i < 0 { return nil }
            return s.entry(i).pointee.value
        }
        set {
            _makeUnique()
            if let newValue {
                _ = _storage.upsert(key, newValue)
            } else if _storage.count > 0 {
                _ = _storage.removeDiscarding(key)
            }
        }
    }

    /// The value for `key`, or `defaultValue()` when absent; mutating through it inserts the default first.
    @inlinable
    public subscript(key: Key, default defaultValue: @autoclosure () -> Value) -> Value {
        get {
            let s = _storage
            let i = s.find(key, s.hash32(key))
            return i < 0 ? defaultValue() : s.entry(i).pointee.value
        }
        _modify {
            _makeUnique()
            let s = _storage
            if s.oldTable != nil { s.migrate(steps: _MapStorage<Key, Value>.migrationStep) }
            let h = s.hash32(key)
            var i = s.find(key, h)
            if i < 0 {
                s.appendNew(key, defaultValue(), h)
                i = s.count - 1
            }
            yield &s.entry(i).pointee.value
        }
    }

    /// Whether the map has a value for `key`.
    @inlinable
    public func contains(_ key: Key) -> Bool {
        let s = _storage
        return s.find(key, s.hash32(key)) >= 0
    }

    /// The position of `key`'s entry, valid until the next mutation, or nil.
    @inlinable
    public func index(forKey key: Key) -> Index? {
        let s = _storage
        let i = s.find(key, s.hash32(key))
        return i < 0 ? nil : Index(offset: i)
    }

    // MARK: Mutation

    /// Stores `value` for `key` and returns the value it replaced, or nil if the key was new.
    @inlinable
    @discardableResult
    public mutating func updateValue(_ value: __owned Value, forKey key: Key) -> Value? {
        _makeUnique()
        return _storage.upsert(key, value)
    }

    /// Removes `key` and returns its value, or nil if it was absent. Emptied chunks go back to the arena.
    @inlinable
    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        if _storage.count == 0 { return nil }
        _makeUnique()
        return _storage.remove(key)
    }

    /// Removes every entry. Without `keepingCapacity`, every chunk and table goes back to the arena.
    public mutating func removeAll(keepingCapacity keepCapacity: Bool = false) {
        if isKnownUniquelyReferenced(&_storage) {
            _storage.removeAll(keepingCapacity: keepCapacity)
        } else {
            let s = _MapStorage<Key, Value>(allocator: _storage.allocator)
            if keepCapacity { s.reserve(_storage.count) }
            _storage = s
        }
    }

    /// Makes room for at least `minimumCapacity` entries without further allocation.
    public mutating func reserveCapacity(_ minimumCapacity: Int) {
        precondition(minimumCapacity >= 0, "ArenaMap: negative capacity")
        _makeUnique()
        _storage.reserve(minimumCapacity)
    }

    /// Returns to the arena every chunk and table the live entries do not need, at once (the map also shrinks by
    /// itself with hysteresis as entries are removed).
    public mutating func shrinkToFit() {
        _makeUnique()
        _storage.shrinkToFit()
    }

    // MARK: Memory

    /// Memory figures of this map.
    public var memoryStats: ArenaMapMemoryStats {
        let s = _storage
        return ArenaMapMemoryStats(
            count: s.count,
            liveBytes: s.count * MemoryLayout<(key: Key, value: Value)>.stride,
            heldBytes: s.heldBytes,
            capacity: s.entryCapacity,
            chunkCount: s.chunkCount,
            tableCapacity: s.tableCapacity + (s.oldTable == nil ? 0 : s.oldMask + 1),
            isResizing: s.oldTable != nil
        )
    }
}

extension ArenaMap: @unchecked Sendable where Key: Sendable, Value: Sendable {}
