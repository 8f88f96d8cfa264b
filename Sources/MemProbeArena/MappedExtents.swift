/// The address ranges the arena has mapped and not unmapped, sorted and merged. `Sys` is their total; `mincore`
/// walks them; `deinit` unmaps them. Regions that the kernel places next to each other merge into one extent.
struct MappedExtents {
    private(set) var starts: [UInt] = []
    private(set) var ends: [UInt] = []
    private(set) var totalBytes = 0

    /// Index of the first extent whose end is > address.
    private func firstEndingAfter(_ address: UInt) -> Int {
        var lo = 0, hi = ends.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ends[mid] <= address { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    mutating func add(start: UInt, byteCount: Int) {
        let end = start + UInt(byteCount)
        let i = firstEndingAfter(start)  // extents before i end at or before start; ranges never overlap
        let mergePrev = i > 0 && ends[i - 1] == start
        let mergeNext = i < starts.count && starts[i] == end
        switch (mergePrev, mergeNext) {
        case (true, true): ends[i - 1] = ends[i]; starts.remove(at: i); ends.remove(at: i)
        case (true, false): ends[i - 1] = end
        case (false, true): starts[i] = start
        case (false, false): starts.insert(start, at: i); ends.insert(end, at: i)
        }
        totalBytes += byteCount
    }

    /// Removes [start, start+byteCount), which must lie inside one extent.
    mutating func remove(start: UInt, byteCount: Int) {
        let end = start + UInt(byteCount)
        let i = firstEndingAfter(start)
        precondition(i < starts.count && starts[i] <= start && end <= ends[i], "unmapping a range the arena does not hold")
        let (s, e) = (starts[i], ends[i])
        switch (s == start, e == end) {
        case (true, true): starts.remove(at: i); ends.remove(at: i)
        case (true, false): starts[i] = end
        case (false, true): ends[i] = start
        case (false, false):
            ends[i] = start
            starts.insert(end, at: i + 1)
            ends.insert(e, at: i + 1)
        }
        totalBytes -= byteCount
    }

    func contains(_ address: UInt) -> Bool {
        let i = firstEndingAfter(address)
        return i < starts.count && starts[i] <= address
    }

    var ranges: [(start: UInt, byteCount: Int)] {
        zip(starts, ends).map { ($0, Int($1 - $0)) }
    }
}
