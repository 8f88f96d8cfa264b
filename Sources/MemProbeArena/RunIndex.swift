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

/// A free run: its length in pages, state, and when it entered that state (for decay deadlines).
struct FreeRun {
    var pages: Int
    var state: RunState
    var stamp: Int
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
