extension ArenaMap: RandomAccessCollection {
    /// A key-value pair.
    public typealias Element = (key: Key, value: Value)

    /// A position of an entry, valid until the next mutation of the map (entries are dense: `0..<count`).
    public struct Index: Comparable, Hashable, Sendable {
        @usableFromInline internal var offset: Int
        @inlinable internal init(offset: Int) { self.offset = offset }
        @inlinable public static func < (a: Index, b: Index) -> Bool { a.offset < b.offset }
    }

    @inlinable public var startIndex: Index { Index(offset: 0) }
    @inlinable public var endIndex: Index { Index(offset: _storage.count) }
    @inlinable public func index(after i: Index) -> Index { Index(offset: i.offset + 1) }
    @inlinable public func index(before i: Index) -> Index { Index(offset: i.offset - 1) }
    @inlinable public func index(_ i: Index, offsetBy n: Int) -> Index { Index(offset: i.offset + n) }
    @inlinable public func distance(from a: Index, to b: Index) -> Int { b.offset - a.offset }

    /// The entry at `position`.
    @inlinable
    public subscript(position: Index) -> Element {
        precondition(position.offset >= 0 && position.offset < _storage.count, "ArenaMap: index out of range")
        return _storage.entry(position.offset).pointee
    }

    /// Iterates the entries chunk by chunk, in entry order.
    public struct Iterator: IteratorProtocol {
        @usableFromInline internal let storage: _MapStorage<Key, Value>
        @usableFromInline internal var position: Int
        @inlinable internal init(storage: _MapStorage<Key, Value>) {
            self.storage = storage
            self.position = 0
        }
        @inlinable
        public mutating func next() -> Element? {
            guard position < storage.count else { return nil }
            defer { position &+= 1 }
            return storage.entry(position).pointee
        }
    }

    @inlinable
    public func makeIterator() -> Iterator { Iterator(storage: _storage) }

    /// The keys, in entry order.
    @inlinable
    public var keys: Keys { Keys(storage: _storage) }

    /// The values, in entry order.
    @inlinable
    public var values: Values { Values(storage: _storage) }

    /// A view of a map's keys (a snapshot: later mutations of the map do not show).
    public struct Keys: RandomAccessCollection {
        @usableFromInline internal let storage: _MapStorage<Key, Value>
        @inlinable internal init(storage: _MapStorage<Key, Value>) { self.storage = storage }
        @inlinable public var startIndex: Int { 0 }
        @inlinable public var endIndex: Int { storage.count }
        @inlinable public subscript(position: Int) -> Key {
            precondition(position >= 0 && position < storage.count, "ArenaMap.Keys: index out of range")
            return storage.entry(position).pointee.key
        }
        /// Whether the map has `key` (a hash lookup, not a scan).
        @inlinable public func contains(_ key: Key) -> Bool { storage.find(key, storage.hash32(key)) >= 0 }
    }

    /// A view of a map's values (a snapshot: later mutations of the map do not show).
    public struct Values: RandomAccessCollection {
        @usableFromInline internal let storage: _MapStorage<Key, Value>
        @inlinable internal init(storage: _MapStorage<Key, Value>) { self.storage = storage }
        @inlinable public var startIndex: Int { 0 }
        @inlinable public var endIndex: Int { storage.count }
        @inlinable public subscript(position: Int) -> Value {
            precondition(position >= 0 && position < storage.count, "ArenaMap.Values: index out of range")
            return storage.entry(position).pointee.value
        }
    }
}

extension ArenaMap.Keys: @unchecked Sendable where Key: Sendable, Value: Sendable {}
extension ArenaMap.Values: @unchecked Sendable where Key: Sendable, Value: Sendable {}
extension ArenaMap.Iterator: @unchecked Sendable where Key: Sendable, Value: Sendable {}
