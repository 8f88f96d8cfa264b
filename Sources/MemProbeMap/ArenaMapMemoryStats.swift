/// The memory figures of one ``ArenaMap``.
public struct ArenaMapMemoryStats: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Entries in the map.
    public var count: Int
    /// Bytes the live entries occupy: `count × MemoryLayout<(key: Key, value: Value)>.stride`.
    public var liveBytes: Int
    /// Bytes of arena memory the map holds: entry chunks, chunk directory and index table(s), as the arena
    /// reserves them (whole pages for page runs).
    public var heldBytes: Int
    /// Entries the allocated chunks can hold.
    public var capacity: Int
    /// Entry chunks allocated.
    public var chunkCount: Int
    /// Index slots allocated (both tables while a resize is in progress).
    public var tableCapacity: Int
    /// Whether an incremental index resize is in progress.
    public var isResizing: Bool

    public init(count: Int, liveBytes: Int, heldBytes: Int, capacity: Int, chunkCount: Int, tableCapacity: Int, isResizing: Bool) {
        self.count = count
        self.liveBytes = liveBytes
        self.heldBytes = heldBytes
        self.capacity = capacity
        self.chunkCount = chunkCount
        self.tableCapacity = tableCapacity
        self.isResizing = isResizing
    }

    /// Entries per allocated entry slot (0 when nothing is allocated).
    public var loadFactor: Double { capacity == 0 ? 0 : Double(count) / Double(capacity) }

    /// Entries per index slot (0 when there is no index).
    public var indexLoadFactor: Double { tableCapacity == 0 ? 0 : Double(count) / Double(tableCapacity) }

    /// Held bytes per live byte (0 when empty).
    public var overhead: Double { liveBytes == 0 ? 0 : Double(heldBytes) / Double(liveBytes) }

    public var description: String {
        "count \(count), live \(liveBytes) B, held \(heldBytes) B, capacity \(capacity) in \(chunkCount) chunks, "
            + "index \(tableCapacity) slots\(isResizing ? " (resizing)" : "")"
    }
}
