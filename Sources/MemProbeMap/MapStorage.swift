import MemProbeSystem

/// The storage of one ``ArenaMap``: a dense entry store in fixed-size chunks plus an open-addressing index.
///
/// Layout (see docs/arena-map.md for the measurements behind it):
/// - **Entries** `(key, value)` live densely at positions `0..<count`, in chunks of `chunkCapacity` entries
///   (a power of two, each chunk one arena page run of 128 KiB–1 MiB). Entries never move when the map grows;
///   removal moves the last entry into the hole (swap-remove), so the tail chunks empty out and are returned as
///   the map shrinks. Only chunk 0 starts small and doubles (moving at most one chunk of entries) until full size.
/// - **Index**: linear-probing table of `UInt64` slots, `hash32 << 32 | (entry + 1)`; 0 is empty. The 32-bit hash
///   gives both the home bucket and a tag compared before any key, and lets the table be rebuilt without hashing a key.
/// - **Incremental resize** (Redis-style): a resize allocates the new table and keeps the old one; every mutation
///   moves a bounded number of old slots. Lookups probe the new table, then the old one. The old table never
///   receives inserts; a removed or migrated old slot becomes a tombstone, so its probe chains stay intact.
///   The new table deletes by backward shift and has no tombstones.
@usableFromInline
internal final class _MapStorage<Key: Hashable, Value> {
    @usableFromInline typealias Element = (key: Key, value: Value)

    @usableFromInline let allocator: _ArenaAllocator
    // Entry store geometry (immutable).
    @usableFromInline let chunkShift: Int
    @usableFromInline let chunkMask: Int

    /// The mutable state lives in a separately allocated header reached through a pointer: stored `var`s of a
    /// class pay a dynamic exclusivity check (swift_beginAccess) on every write, which cost Int→Int ops ~2×.
    @usableFromInline let header: UnsafeMutablePointer<_MapHeader<Key, Value>>

    @inlinable @inline(__always)
    var count: Int {
        get { header.pointee.count }
        _modify { yield &header.pointee.count }
    }

    @inlinable @inline(__always)
    var chunks: UnsafeMutablePointer<UnsafeMutablePointer<Element>>? {
        get { header.pointee.chunks }
        _modify { yield &header.pointee.chunks }
    }

    @inlinable @inline(__always)
    var chunkCount: Int {
        get { header.pointee.chunkCount }
        _modify { yield &header.pointee.chunkCount }
    }

    @inlinable @inline(__always)
    var directoryCapacity: Int {
        get { header.pointee.directoryCapacity }
        _modify { yield &header.pointee.directoryCapacity }
    }

    @inlinable @inline(__always)
    var firstChunkCapacity: Int {
        get { header.pointee.firstChunkCapacity }
        _modify { yield &header.pointee.firstChunkCapacity }
    }

    @inlinable @inline(__always)
    var table: UnsafeMutablePointer<UInt64>? {
        get { header.pointee.table }
        _modify { yield &header.pointee.table }
    }

    @inlinable @inline(__always)
    var tableMask: Int {
        get { header.pointee.tableMask }
        _modify { yield &header.pointee.tableMask }
    }

    @inlinable @inline(__always)
    var oldTable: UnsafeMutablePointer<UInt64>? {
        get { header.pointee.oldTable }
        _modify { yield &header.pointee.oldTable }
    }

    @inlinable @inline(__always)
    var oldMask: Int {
        get { header.pointee.oldMask }
        _modify { yield &header.pointee.oldMask }
    }

    @inlinable @inline(__always)
    var migrateCursor: Int {
        get { header.pointee.migrateCursor }
        _modify { yield &header.pointee.migrateCursor }
    }

    @inlinable @inline(__always)
    var heldBytes: Int {
        get { header.pointee.heldBytes }
        _modify { yield &header.pointee.heldBytes }
    }


    @usableFromInline static var tombstone: UInt64 { 0xFFFF_FFFF }
    /// Old slots moved per mutation while a resize is in progress.
    @usableFromInline static var migrationStep: Int { 128 }
    /// Old tables up to this many slots are migrated at once.
    @usableFromInline static var eagerMigrationLimit: Int { 1024 }
    @usableFromInline static var minimumTableCapacity: Int { 8 }
    @usableFromInline static var maximumCount: Int { Int(UInt32.max) - 2 }

    @usableFromInline
    init(allocator: _ArenaAllocator, seed: (UInt64, UInt64)? = nil) {
        self.allocator = allocator
        let shift = _MapStorage.chooseChunkShift()
        self.chunkShift = shift
        self.chunkMask = (1 << shift) - 1
        self.header = .allocate(capacity: 1)
        self.header.initialize(to: _MapHeader())
        (header.pointee.seed0, header.pointee.seed1) = seed ?? _MapSeed.next()
    }

    /// The storage's hash seeds (copied with the tables, since slots carry hashes). Never printed or reflected:
    /// `ArenaMap`'s mirror shows only its entries.
    @inlinable @inline(__always)
    var seed0: UInt64 { header.pointee.seed0 }

    @inlinable @inline(__always)
    var seed1: UInt64 { header.pointee.seed1 }

    /// New seeds for a storage whose index holds no slot (emptied or about to be rebuilt), so whatever an observer
    /// learnt about the old seeds from timing is worth nothing afterwards.
    @usableFromInline
    func reseed() {
        (header.pointee.seed0, header.pointee.seed1) = _MapSeed.next()
    }

    deinit {
        releaseEverything()
        header.deinitialize(count: 1)
        header.deallocate()
    }

    /// The chunk size: a power of two of entries, between 128 KiB and 1 MiB of bytes where possible, with the least
    /// page-rounding waste (1 KiB values: 512 × 1032 B = exactly 129 pages).
    @usableFromInline
    static func chooseChunkShift() -> Int {
        let stride = MemoryLayout<Element>.stride
        let page = VirtualMemory.pageSize
        var best = 0
        var bestWaste = Double.infinity
        for shift in 0...24 {
            let bytes = stride << shift
            if bytes > 1 << 20 && shift > 0 { break }
            if bytes < 128 << 10 { best = shift; continue }
            let rounded = (bytes + page - 1) / page * page
            let waste = Double(rounded - bytes) / Double(bytes)
            if waste < bestWaste - 0.001 { best = shift; bestWaste = waste }
        }
        return best
    }

    @inlinable @inline(__always)
    var chunkCapacity: Int { 1 << chunkShift }

    @inlinable @inline(__always)
    var entryCapacity: Int {
        chunkCount <= 1 ? (chunkCount == 0 ? 0 : firstChunkCapacity) : chunkCount << chunkShift
    }

    @inlinable @inline(__always)
    var tableCapacity: Int { table == nil ? 0 : tableMask + 1 }

    @inlinable @inline(__always)
    func entry(_ i: Int) -> UnsafeMutablePointer<Element> {
        chunks.unsafelyUnwrapped[i &>> chunkShift] + (i & chunkMask)
    }

    /// Whether each entry's 32-bit hash is kept beside it: for every key type but Int/UInt (whose hash is a few
    /// multiplies). A removal must repoint the slot of the entry that fills the hole, found by that entry's hash:
    /// for String keys recomputing it was a SipHash plus a cache miss on the moved key's heap storage (issue 13 §5).
    @inlinable @inline(__always)
    static var storesHashes: Bool { !(Key.self == Int.self || Key.self == UInt.self) }

    /// Bytes in front of a chunk's entries that hold their hashes (0 when hashes are not stored).
    @inlinable @inline(__always)
    static func hashAreaBytes(entries n: Int) -> Int { storesHashes ? (n &* 4 &+ 15) & ~15 : 0 }

    /// Bytes of one chunk of `n` entries (hash area + entries).
    @inlinable @inline(__always)
    static func chunkBytes(entries n: Int) -> Int { hashAreaBytes(entries: n) &+ n &* MemoryLayout<Element>.stride }

    /// The stored hash of entry `i`: hashes sit in front of their chunk's entries in reverse order (entry j of a
    /// chunk at `entries − 4·(j+1)`), so the address does not depend on the chunk's capacity.
    @inlinable @inline(__always)
    func storedHash(_ i: Int) -> UnsafeMutablePointer<UInt32> {
        (UnsafeMutableRawPointer(chunks.unsafelyUnwrapped[i &>> chunkShift]) - 4 &* ((i & chunkMask) &+ 1))
            .assumingMemoryBound(to: UInt32.self)
    }

    // MARK: Hashing

    @inlinable @inline(__always)
    func hash32(_ key: Key) -> UInt32 {
        let h: UInt64
        if Key.self == Int.self {
            // Int keys: a keyed two-multiply mix (wyhash-style) instead of SipHash; see _MapSeed.hash.
            h = _MapSeed.hash(UInt64(UInt(bitPattern: unsafeBitCast(key, to: Int.self))), seed0, seed1)
        } else if Key.self == UInt.self {
            h = _MapSeed.hash(UInt64(unsafeBitCast(key, to: UInt.self)), seed0, seed1)
        } else {
            h = UInt64(UInt(bitPattern: key._rawHashValue(seed: Int(bitPattern: UInt(truncatingIfNeeded: seed0)))))
        }
        return UInt32(truncatingIfNeeded: h ^ (h &>> 32))
    }

    // MARK: Probing

    /// The bucket of `key` in table `t`, or -1.
    @inlinable @inline(__always)
    func probe(_ t: UnsafeMutablePointer<UInt64>, _ mask: Int, _ key: Key, _ h: UInt32) -> Int {
        var b = Int(h) & mask
        let tag = UInt64(h) &<< 32
        while true {
            let s = t[b]
            if s == 0 { return -1 }
            if s & 0xFFFF_FFFF_0000_0000 == tag {
                let low = s & 0xFFFF_FFFF
                if low != _MapStorage.tombstone && entry(Int(truncatingIfNeeded: low) &- 1).pointee.key == key {
                    return b
                }
            }
            b = (b &+ 1) & mask
        }
    }

    @inlinable @inline(__always)
    static func slotEntry(_ s: UInt64) -> Int { Int(truncatingIfNeeded: s & 0xFFFF_FFFF) &- 1 }

    /// The entry position of `key`, or -1.
    @inlinable @inline(__always)
    func find(_ key: Key, _ h: UInt32) -> Int {
        if count == 0 { return -1 }
        let t = table.unsafelyUnwrapped
        let b = probe(t, tableMask, key, h)
        if b >= 0 { return _MapStorage.slotEntry(t[b]) }
        if let o = oldTable {
            let ob = probe(o, oldMask, key, h)
            if ob >= 0 { return _MapStorage.slotEntry(o[ob]) }
        }
        return -1
    }

    /// Puts a slot into a table known not to hold its key.
    @inlinable @inline(__always)
    static func place(_ t: UnsafeMutablePointer<UInt64>, _ mask: Int, _ slot: UInt64) {
        var b = Int(truncatingIfNeeded: slot &>> 32) & mask
        while t[b] != 0 { b = (b &+ 1) & mask }
        t[b] = slot
    }

    /// Backward-shift deletion: no tombstones in the live table.
    @inlinable
    static func deleteSlot(_ t: UnsafeMutablePointer<UInt64>, _ mask: Int, _ bucket: Int) {
        var hole = bucket
        var j = bucket
        while true {
            j = (j &+ 1) & mask
            let s = t[j]
            if s == 0 { break }
            let home = Int(truncatingIfNeeded: s &>> 32) & mask
            // Move s into the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !stays {
                t[hole] = s
                hole = j
            }
        }
        t[hole] = 0
    }

    // MARK: Mutation

    /// Stores `value` for `key` with one probe of the live table: returns the replaced value, or nil if inserted.
    @inlinable
    func upsert(_ key: Key, _ value: __owned Value) -> Value? {
        if oldTable != nil { migrate(steps: _MapStorage.migrationStep) }
        let h = hash32(key)
        if let t = table {
            let mask = tableMask
            var b = Int(h) & mask
            let tag = UInt64(h) &<< 32
            while true {
                let s = t[b]
                if s == 0 { break }
                if s & 0xFFFF_FFFF_0000_0000 == tag {
                    let p = entry(_MapStorage.slotEntry(s))
                    if p.pointee.key == key {
                        var old = value
                        swap(&old, &p.pointee.value)
                        return old
                    }
                }
                b = (b &+ 1) & mask
            }
            if let o = oldTable {
                let ob = probe(o, oldMask, key, h)
                if ob >= 0 {
                    var old = value
                    swap(&old, &entry(_MapStorage.slotEntry(o[ob])).pointee.value)
                    return old
                }
            }
            // Absent: b is the empty bucket where the probe ended; use it if no growth is due.
            let n = count
            if n < entryCapacity && n + 1 <= mask + 1 - (mask + 1) / 4 {
                entry(n).initialize(to: (key, value))
                if _MapStorage.storesHashes { storedHash(n).pointee = h }
                count = n + 1
                t[b] = tag | UInt64(n + 1)
                return nil
            }
        }
        appendNew(key, value, h)
        return nil
    }

    /// Inserts a key known to be absent.
    @inlinable
    func appendNew(_ key: Key, _ value: __owned Value, _ h: UInt32) {
        if count == entryCapacity { growEntries(minimumCapacity: count + 1) }
        if count + 1 > tableCapacity - tableCapacity / 4 { growTable(minimumCount: count + 1) }
        entry(count).initialize(to: (key, value))
        if _MapStorage.storesHashes { storedHash(count).pointee = h }
        count += 1
        _MapStorage.place(table.unsafelyUnwrapped, tableMask, UInt64(h) &<< 32 | UInt64(count))
    }

    /// Removes the entry of `key` without handing its value back (`map[key] = nil`): the value is destroyed in
    /// place instead of being moved out, which for large values saves a copy. Returns whether the key was there.
    @inlinable
    func removeDiscarding(_ key: Key) -> Bool {
        if count == 0 { return false }
        let h = hash32(key)
        let t = table.unsafelyUnwrapped
        let hint = lastEntryHint(t)
        let b = probe(t, tableMask, key, h)
        let e: Int
        if b >= 0 {
            e = _MapStorage.slotEntry(t[b])
            _MapStorage.deleteSlot(t, tableMask, b)
        } else {
            guard let o = oldTable else { return false }
            let ob = probe(o, oldMask, key, h)
            if ob < 0 { return false }
            e = _MapStorage.slotEntry(o[ob])
            o[ob] = _MapStorage.tombstone
        }
        entry(e).deinitialize(count: 1)
        fillHole(e, hint: hint)
        return true
    }

    /// The last entry's hash and the slot at its home bucket, loaded before the removed key is probed, so the
    /// two cache misses of a removal (the key's slot, and the slot of the entry that fills the hole) overlap.
    /// The hash is a few multiplies (Int, UInt) or read from the stored hashes (every other key): no key is hashed
    /// before the map knows the removed key is present (a SipHash of a String key cost more than the overlap saved).
    @inlinable @inline(__always)
    func lastEntryHint(_ t: UnsafeMutablePointer<UInt64>) -> (hash: UInt32, home: UInt64)? {
        let h = _MapStorage.storesHashes ? storedHash(count &- 1).pointee : hash32(entry(count &- 1).pointee.key)
        return (h, t[Int(h) & tableMask])
    }

    /// Removes the entry of `key` and returns its value, or nil.
    @inlinable
    func remove(_ key: Key) -> Value? {
        if count == 0 { return nil }
        let h = hash32(key)
        let t = table.unsafelyUnwrapped
        let hint = lastEntryHint(t)
        let b = probe(t, tableMask, key, h)
        let e: Int
        if b >= 0 {
            e = _MapStorage.slotEntry(t[b])
            _MapStorage.deleteSlot(t, tableMask, b)
        } else {
            guard let o = oldTable else { return nil }
            let ob = probe(o, oldMask, key, h)
            if ob < 0 { return nil }
            e = _MapStorage.slotEntry(o[ob])
            o[ob] = _MapStorage.tombstone
        }
        // Move the value straight out and destroy the key in place: no temporary copy of the whole entry.
        let p = entry(e)
        let removed = withUnsafeMutablePointer(to: &p.pointee.value) { $0.move() }
        withUnsafeMutablePointer(to: &p.pointee.key) { _ = $0.deinitialize(count: 1) }
        fillHole(e, hint: hint)
        return removed
    }

    /// Entry `e` is deinitialized and its slot gone: move the last entry into the hole, repoint its slot, and
    /// do the bounded shrink/migration work of a removal.
    @inlinable
    func fillHole(_ e: Int, hint: (hash: UInt32, home: UInt64)?) {
        let last = count - 1
        if e != last {
            let p = entry(e)
            p.moveInitialize(from: entry(last), count: 1)
            let h: UInt32
            if _MapStorage.storesHashes {
                h = storedHash(last).pointee
                storedHash(e).pointee = h
            } else {
                h = hint?.hash ?? hash32(p.pointee.key)
            }
            let t = table.unsafelyUnwrapped
            let home = Int(h) & tableMask
            // Usually the last entry sits at its home bucket, whose slot the hint already brought into cache.
            if let hint, hint.home == UInt64(h) &<< 32 | UInt64(last + 1), t[home] == hint.home {
                t[home] = UInt64(h) &<< 32 | UInt64(e + 1)
            } else {
                repoint(from: last, to: e, hash: h)
            }
        }
        count = last
        if last == 0 && oldTable == nil { reseed() }  // the index is empty: nothing hashed with the old seeds remains
        if needsShrinkWork { shrinkAfterRemove() }
        if oldTable != nil { migrate(steps: _MapStorage.migrationStep) }
    }

    /// Rewrites the slot that points at entry `from` to point at `to`.
    @inlinable
    func repoint(from: Int, to: Int, hash h: UInt32) {
        let want = UInt64(h) &<< 32 | UInt64(from + 1)
        let new = UInt64(h) &<< 32 | UInt64(to + 1)
        var t = table.unsafelyUnwrapped
        var mask = tableMask
        var pass = 0
        while true {
            var b = Int(h) & mask
            while true {
                let s = t[b]
                if s == want { t[b] = new; return }
                if s == 0 { break }
                b = (b &+ 1) & mask
            }
            pass += 1
            precondition(pass == 1 && oldTable != nil, "ArenaMap: index lost an entry (Key's hash/== inconsistent?)")
            t = oldTable.unsafelyUnwrapped
            mask = oldMask
        }
    }

    @inlinable @inline(__always)
    var needsShrinkWork: Bool {
        (chunkCount > 1 && count + chunkCapacity / 2 <= (chunkCount - 1) << chunkShift)
            || (chunkCount == 1 && firstChunkCapacity > 8 && count < firstChunkCapacity / 4)
            || (oldTable == nil && tableMask + 1 > _MapStorage.minimumTableCapacity && count &* 16 <= (tableMask + 1) &* 3)
    }

    /// Moves up to `steps` old slots into the new table; frees the old table when done.
    @inlinable
    func migrate(steps: Int) {
        guard let o = oldTable else { return }
        let t = table.unsafelyUnwrapped
        let mask = tableMask
        let end = min(oldMask + 1, migrateCursor &+ steps)
        var i = migrateCursor
        while i < end {
            let s = o[i]
            if s != 0 && s & 0xFFFF_FFFF != _MapStorage.tombstone {
                _MapStorage.place(t, mask, s)
                o[i] = _MapStorage.tombstone
            }
            i &+= 1
        }
        migrateCursor = i
        if i > oldMask { finishMigration() }
    }

    @usableFromInline
    func finishMigration() {
        guard let o = oldTable else { return }
        if migrateCursor <= oldMask { migrate(steps: oldMask + 1) ; return }
        freeTable(o, capacity: oldMask + 1)
        oldTable = nil
        oldMask = 0
        migrateCursor = 0
        if count == 0 { reseed() }
    }

    // MARK: Slow paths (not inlined)

    @usableFromInline
    func allocateTable(capacity: Int) -> UnsafeMutablePointer<UInt64> {
        let bytes = capacity * 8
        heldBytes += allocator.reservedSize(forByteCount: bytes)
        return (try! allocator.arena.allocateZeroed(byteCount: bytes, alignment: 16)).bindMemory(to: UInt64.self, capacity: capacity)
    }

    @usableFromInline
    func freeTable(_ t: UnsafeMutablePointer<UInt64>, capacity: Int) {
        let bytes = capacity * 8
        heldBytes -= allocator.reservedSize(forByteCount: bytes)
        allocator.deallocate(UnsafeMutableRawPointer(t), byteCount: bytes)
    }

    @usableFromInline
    func allocateChunk(entries: Int) -> UnsafeMutablePointer<Element> {
        let bytes = _MapStorage.chunkBytes(entries: entries)
        heldBytes += allocator.reservedSize(forByteCount: bytes)
        let raw = allocator.allocate(byteCount: bytes, alignment: max(16, MemoryLayout<Element>.alignment))
        if _MapStorage.storesHashes { raw.bindMemory(to: UInt32.self, capacity: entries) }
        return (raw + _MapStorage.hashAreaBytes(entries: entries)).bindMemory(to: Element.self, capacity: entries)
    }

    @usableFromInline
    func freeChunk(_ c: UnsafeMutablePointer<Element>, entries: Int) {
        let bytes = _MapStorage.chunkBytes(entries: entries)
        heldBytes -= allocator.reservedSize(forByteCount: bytes)
        allocator.deallocate(UnsafeMutableRawPointer(c) - _MapStorage.hashAreaBytes(entries: entries), byteCount: bytes)
    }

    @usableFromInline
    func resizeDirectory(_ capacity: Int) {
        let stride = MemoryLayout<UnsafeMutablePointer<Element>>.stride
        let newBytes = capacity * stride
        heldBytes += allocator.reservedSize(forByteCount: newBytes)
        let d = allocator.allocate(byteCount: newBytes, alignment: 8)
            .bindMemory(to: UnsafeMutablePointer<Element>.self, capacity: capacity)
        if let old = chunks {
            d.moveInitialize(from: old, count: chunkCount)
            let oldBytes = directoryCapacity * stride
            heldBytes -= allocator.reservedSize(forByteCount: oldBytes)
            allocator.deallocate(UnsafeMutableRawPointer(old), byteCount: oldBytes)
        }
        chunks = d
        directoryCapacity = capacity
    }

    /// Replaces chunk 0 (the only chunk) by one of `entries` entries, moving the live entries.
    @usableFromInline
    func resizeFirstChunk(to entries: Int) {
        precondition(chunkCount == 1 && entries >= count)
        let c = allocateChunk(entries: entries)
        let old = chunks.unsafelyUnwrapped[0]
        c.moveInitialize(from: old, count: count)
        if _MapStorage.storesHashes {
            // Hashes sit in reverse order in front of the entries: the `count` of them end where the entries start.
            let bytes = count * 4
            (UnsafeMutableRawPointer(c) - bytes).copyMemory(from: UnsafeRawPointer(old) - bytes, byteCount: bytes)
        }
        freeChunk(old, entries: firstChunkCapacity)
        chunks.unsafelyUnwrapped[0] = c
        firstChunkCapacity = entries
    }

    /// Makes room for at least `minimumCapacity` entries without moving any entry outside chunk 0.
    @usableFromInline
    func growEntries(minimumCapacity: Int) {
        precondition(minimumCapacity <= _MapStorage.maximumCount, "ArenaMap: too many entries")
        let full = chunkCapacity
        if chunkCount == 0 {
            resizeDirectory(4)
            var first = min(full, 8)
            while first < minimumCapacity && first < full { first *= 2 }
            chunks.unsafelyUnwrapped[0] = allocateChunk(entries: first)
            chunkCount = 1
            firstChunkCapacity = first
        }
        if chunkCount == 1 && firstChunkCapacity < full && firstChunkCapacity < minimumCapacity {
            var first = firstChunkCapacity
            while first < minimumCapacity && first < full { first *= 2 }
            resizeFirstChunk(to: first)
        }
        while entryCapacity < minimumCapacity {
            if chunkCount == directoryCapacity { resizeDirectory(directoryCapacity * 2) }
            chunks.unsafelyUnwrapped[chunkCount] = allocateChunk(entries: full)
            chunkCount += 1
        }
    }

    /// The smallest power-of-two table whose load stays ≤ `load` for `n` entries.
    @usableFromInline
    static func tableCapacity(for n: Int, loadNumerator: Int, loadDenominator: Int) -> Int {
        var c = minimumTableCapacity
        while n * loadDenominator > c * loadNumerator { c *= 2 }
        return c
    }

    /// Starts a resize to `capacity` slots; small tables migrate at once.
    @usableFromInline
    func startResize(to capacity: Int, eager: Bool = false) {
        if oldTable != nil { finishMigration() }
        let new = allocateTable(capacity: capacity)
        guard let current = table else {
            table = new
            tableMask = capacity - 1
            return
        }
        oldTable = current
        oldMask = tableMask
        migrateCursor = 0
        table = new
        tableMask = capacity - 1
        if eager || oldMask + 1 <= _MapStorage.eagerMigrationLimit { finishMigration() }
    }

    /// Grows at 3/4 load to the next power of two (load 3/8 after). The target is sized for 3/4 load: sizing it
    /// for 3/8 made the count one past the threshold ask for 4× the table (load 3/16 after every growth).
    @usableFromInline
    func growTable(minimumCount: Int) {
        let target = _MapStorage.tableCapacity(for: minimumCount, loadNumerator: 3, loadDenominator: 4)
        startResize(to: max(target, tableCapacity * 2))
    }

    /// Returns emptied tail chunks, shrinks a lone chunk 0, and starts an index shrink at ≤ 3/16 load.
    ///
    /// Why 3/16: a map that reached `count` by inserting has the smallest power-of-two table F with count ≤ 3/4·F.
    /// A table C ≥ 4F means count ≤ 3/16·C, so shrinking (to half, load ≤ 3/8) there keeps the index ≤ 2× a fresh
    /// map's at every count. No thrash: after a shrink the load is 3/8, so the next grow needs the count to double
    /// and the next shrink needs it to halve.
    @usableFromInline
    func shrinkAfterRemove() {
        // Keep one spare chunk's worth (half a chunk of hysteresis) so remove/insert at a boundary does not thrash.
        while chunkCount > 1 && count + chunkCapacity / 2 <= (chunkCount - 1) << chunkShift {
            chunkCount -= 1
            freeChunk(chunks.unsafelyUnwrapped[chunkCount], entries: chunkCapacity)
        }
        if chunkCount == 1 && firstChunkCapacity > 8 && count < firstChunkCapacity / 4 {
            resizeFirstChunk(to: firstChunkCapacity / 2)
        }
        if oldTable == nil && tableCapacity > _MapStorage.minimumTableCapacity && count * 16 <= tableCapacity * 3 {
            let target = _MapStorage.tableCapacity(for: count, loadNumerator: 3, loadDenominator: 8)
            if target < tableCapacity { startResize(to: target) }
        }
    }

    /// Ensures room for `n` entries with no further allocation (entries and index).
    ///
    /// The pages a reservation will be written to are populated here (MADV_POPULATE_WRITE, one call per chunk
    /// and for the table): the caller asked for the room, and faulting them in one system call each costs far
    /// less than one trap per 4 KiB page inside the insert loop (issue 11: "prefaulting in reserveCapacity").
    @usableFromInline
    func reserve(_ n: Int) {
        let firstNewChunk = count == 0 ? 0 : (count + chunkCapacity - 1) >> chunkShift
        if n > entryCapacity { growEntries(minimumCapacity: n) }
        var newTable = false
        if n > tableCapacity - tableCapacity / 4 {
            startResize(to: _MapStorage.tableCapacity(for: n, loadNumerator: 3, loadDenominator: 4), eager: true)
            newTable = true
        }
        // Chunks not yet written to, up to the one that holds entry n − 1.
        let lastChunk = min(chunkCount, ((n - 1) >> chunkShift) + 1)
        if firstNewChunk < lastChunk {
            for c in firstNewChunk..<lastChunk {
                let entries = c == 0 ? firstChunkCapacity : chunkCapacity
                let area = _MapStorage.hashAreaBytes(entries: entries)
                allocator.prefault(UnsafeMutableRawPointer(chunks.unsafelyUnwrapped[c]) - area,
                                   byteCount: _MapStorage.chunkBytes(entries: entries))
            }
        }
        if newTable, let t = table { allocator.prefault(UnsafeMutableRawPointer(t), byteCount: tableCapacity * 8) }
    }

    /// Deinitializes every entry, keeping the memory.
    @usableFromInline
    func destroyEntries() {
        var done = 0
        var c = 0
        while done < count {
            let n = min(count - done, c == 0 ? firstChunkCapacity : chunkCapacity)
            chunks.unsafelyUnwrapped[c].deinitialize(count: n)
            done += n
            c += 1
        }
        count = 0
    }

    /// Removes every entry; returns all memory unless `keepingCapacity`.
    @usableFromInline
    func removeAll(keepingCapacity: Bool) {
        if keepingCapacity {
            destroyEntries()
            if oldTable != nil { finishMigration() }
            if let t = table { t.update(repeating: 0, count: tableCapacity) }
        } else {
            releaseEverything()
        }
        reseed()
    }

    /// Returns every byte to the arena.
    @usableFromInline
    func releaseEverything() {
        destroyEntries()
        if let d = chunks {
            for c in 0..<chunkCount { freeChunk(d[c], entries: c == 0 ? firstChunkCapacity : chunkCapacity) }
            let bytes = directoryCapacity * MemoryLayout<UnsafeMutablePointer<Element>>.stride
            heldBytes -= allocator.reservedSize(forByteCount: bytes)
            allocator.deallocate(UnsafeMutableRawPointer(d), byteCount: bytes)
        }
        chunks = nil
        chunkCount = 0
        directoryCapacity = 0
        firstChunkCapacity = 0
        if let o = oldTable { freeTable(o, capacity: oldMask + 1) }
        oldTable = nil
        oldMask = 0
        migrateCursor = 0
        if let t = table { freeTable(t, capacity: tableMask + 1) }
        table = nil
        tableMask = 0
    }

    /// Frees everything the live entries do not need: spare chunks, an oversized chunk 0, an oversized index.
    @usableFromInline
    func shrinkToFit() {
        if count == 0 { releaseEverything(); reseed(); return }
        if oldTable != nil { finishMigration() }
        let needed = (count + chunkCapacity - 1) >> chunkShift
        while chunkCount > needed {
            chunkCount -= 1
            freeChunk(chunks.unsafelyUnwrapped[chunkCount], entries: chunkCapacity)
        }
        if chunkCount == 1 {
            var first = 8 < chunkCapacity ? 8 : chunkCapacity
            while first < count { first *= 2 }
            if first < firstChunkCapacity { resizeFirstChunk(to: first) }
        }
        let target = _MapStorage.tableCapacity(for: count, loadNumerator: 1, loadDenominator: 2)
        if target < tableCapacity { startResize(to: target, eager: true) }
    }

    /// A copy with the same entries at the same positions (so slots can be copied without hashing).
    @usableFromInline
    func copy() -> _MapStorage {
        let s = _MapStorage(allocator: allocator, seed: (seed0, seed1))
        if count == 0 { return s }
        s.growEntries(minimumCapacity: count)
        var done = 0
        var c = 0
        while done < count {
            let n = min(count - done, c == 0 ? firstChunkCapacity : chunkCapacity)
            s.entry(done).initialize(from: entry(done), count: n)
            if _MapStorage.storesHashes {
                let bytes = n * 4
                (UnsafeMutableRawPointer(s.entry(done)) - bytes).copyMemory(from: UnsafeRawPointer(entry(done)) - bytes, byteCount: bytes)
            }
            done += n
            c += 1
        }
        s.count = count
        let cap = _MapStorage.tableCapacity(for: count, loadNumerator: 3, loadDenominator: 8)
        s.table = s.allocateTable(capacity: cap)
        s.tableMask = cap - 1
        let dst = s.table.unsafelyUnwrapped
        for (t, mask) in [(table, tableMask), (oldTable, oldMask)] {
            guard let t else { continue }
            for i in 0...mask {
                let slot = t[i]
                if slot != 0 && slot & 0xFFFF_FFFF != _MapStorage.tombstone { _MapStorage.place(dst, cap - 1, slot) }
            }
        }
        return s
    }
}

/// The mutable fields of a ``_MapStorage``.
@usableFromInline
internal struct _MapHeader<Key: Hashable, Value> {
    @usableFromInline var count: Int = 0
    @usableFromInline var chunks: UnsafeMutablePointer<UnsafeMutablePointer<(key: Key, value: Value)>>? = nil
    @usableFromInline var chunkCount: Int = 0
    @usableFromInline var directoryCapacity: Int = 0
    /// Capacity of chunk 0; equals the full chunk capacity whenever there is more than one chunk.
    @usableFromInline var firstChunkCapacity: Int = 0
    @usableFromInline var table: UnsafeMutablePointer<UInt64>? = nil
    @usableFromInline var tableMask: Int = 0
    @usableFromInline var oldTable: UnsafeMutablePointer<UInt64>? = nil
    @usableFromInline var oldMask: Int = 0
    @usableFromInline var migrateCursor: Int = 0
    /// Bytes of arena memory the storage holds (as the arena reserves them).
    @usableFromInline var heldBytes: Int = 0
    /// The hash seeds (see `_MapSeed.hash`); replaced whenever the index is emptied.
    @usableFromInline var seed0: UInt64 = 0
    @usableFromInline var seed1: UInt64 = 0

    @usableFromInline init() {}
}
