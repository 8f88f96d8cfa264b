/// The state of a free page run.
enum RunState: Int, CaseIterable {
    /// Resident, reusable at once.
    case dirty = 0
    /// MADV_FREE'd: resident until the kernel wants it; contents undefined.
    case lazy = 1
    /// Discarded (MADV_DONTNEED / PAGEOUT) or never touched: not resident, reads as zero.
    case released = 2
}

/// A free run's size and address, ordered so that a lower-bound search finds the best fit
/// (smallest run that is large enough; lowest address among equals).
struct RunKey: Comparable {
    var pages: Int
    var start: UInt
    static func < (a: RunKey, b: RunKey) -> Bool { a.pages != b.pages ? a.pages < b.pages : a.start < b.start }
}

/// A sorted array of ``RunKey``: O(log n) best-fit search, O(n) memmove insert/remove, which is cheap for the
/// few hundred free runs an arena usually has and needs no node allocations.
struct SortedRunKeys {
    private(set) var keys: [RunKey] = []

    func lowerBound(_ k: RunKey) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keys[mid] < k { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    mutating func insert(_ k: RunKey) { keys.insert(k, at: lowerBound(k)) }

    mutating func remove(_ k: RunKey) {
        let i = lowerBound(k)
        precondition(i < keys.count && keys[i] == k, "free-run index out of sync")
        keys.remove(at: i)
    }

    /// The best fit for `pages`, if any.
    func bestFit(pages: Int) -> RunKey? {
        let i = lowerBound(RunKey(pages: pages, start: 0))
        return i < keys.count ? keys[i] : nil
    }

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }
}

/// A free run: its length in pages, state, when it entered that state (for decay deadlines), and its slot in
/// its size bin (small runs) so removal is O(1).
struct FreeRun {
    var pages: Int
    var state: RunState
    var stamp: Int
    var slot: Int = -1
}

/// The free runs of one state, for best-fit search: exact-size bins for runs of 1…`binCount` pages (O(1) insert
/// and remove, a bitmap of non-empty bins finds the smallest fitting bin in a few instructions), and a sorted
/// array only for larger runs, which are few even in a fragmented heap.
struct StateIndex {
    static let binCount = 128
    private var bins: [[UInt]] = Array(repeating: [], count: StateIndex.binCount + 1)
    private var nonEmpty: [UInt64] = Array(repeating: 0, count: StateIndex.binCount / 64)
    private var large = SortedRunKeys()
    private(set) var count = 0

    /// Adds a run; returns its bin slot (-1 for a large run).
    mutating func insert(start: UInt, pages: Int) -> Int {
        count += 1
        if pages > Self.binCount {
            large.insert(RunKey(pages: pages, start: start))
            return -1
        }
        bins[pages].append(start)
        nonEmpty[(pages - 1) >> 6] |= 1 << UInt64((pages - 1) & 63)
        return bins[pages].count - 1
    }

    /// Removes a run. When another run moved into its slot, returns that run's start and new slot.
    mutating func remove(start: UInt, pages: Int, slot: Int) -> (moved: UInt, slot: Int)? {
        count -= 1
        if pages > Self.binCount {
            large.remove(RunKey(pages: pages, start: start))
            return nil
        }
        precondition(bins[pages][slot] == start, "free-run bin out of sync")
        let last = bins[pages].removeLast()
        if bins[pages].isEmpty { nonEmpty[(pages - 1) >> 6] &= ~(1 << UInt64((pages - 1) & 63)) }
        if last == start { return nil }
        bins[pages][slot] = last
        return (last, slot)
    }

    /// The start of the smallest run with at least `pages` pages, if any.
    func bestFit(pages: Int) -> UInt? {
        if pages <= Self.binCount {
            var w = (pages - 1) >> 6
            var mask = nonEmpty[w] & (~UInt64(0) << UInt64((pages - 1) & 63))
            while true {
                if mask != 0 { return bins[w * 64 + mask.trailingZeroBitCount + 1].last }
                w += 1
                if w == nonEmpty.count { break }
                mask = nonEmpty[w]
            }
        }
        return large.bestFit(pages: pages)?.start
    }

    /// Every run's start (for release-everything passes and deadline rebuilds).
    var allStarts: [UInt] {
        var out: [UInt] = []
        out.reserveCapacity(count)
        for w in nonEmpty.indices {
            var m = nonEmpty[w]
            while m != 0 {
                out.append(contentsOf: bins[w * 64 + m.trailingZeroBitCount + 1])
                m &= m - 1
            }
        }
        out.append(contentsOf: large.keys.map(\.start))
        return out
    }
}

/// A deadline queue entry: the run that started at `start` entered its state at `stamp`. Entries go stale when
/// the run is reused, merged or split; stale entries are dropped when they reach the front.
struct PendingEntry {
    var start: UInt
    var stamp: Int
}

/// FIFO of ``PendingEntry`` with an advancing head (amortised O(1), compacts itself).
struct PendingQueue {
    private var items: [PendingEntry] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var front: PendingEntry? { head < items.count ? items[head] : nil }

    mutating func push(_ e: PendingEntry) { items.append(e) }

    mutating func popFront() {
        head += 1
        if head == items.count { items.removeAll(keepingCapacity: true); head = 0 }
        else if head >= 1024 && head * 2 >= items.count { items.removeFirst(head); head = 0 }
    }

    mutating func replaceFront(_ e: PendingEntry) { items[head] = e }

    mutating func removeAll() { items.removeAll(); head = 0 }

    /// Rebuilds the queue from scratch (used when stale entries pile up).
    mutating func reset(_ entries: [PendingEntry]) { items = entries; head = 0 }
}
