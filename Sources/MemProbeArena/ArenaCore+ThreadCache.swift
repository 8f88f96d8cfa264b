extension ArenaCore {
    /// Refills a thread cache: up to `count` free blocks of class `c` into `out`, taken a bitmap word at a time
    /// from the slab pages with free blocks (one table lookup per page, not per block). A new page is started
    /// only when no page of the class has a free block and nothing was taken yet. Returns how many (≥ 1).
    mutating func takeBlocks(sizeClass c: Int, into out: UnsafeMutablePointer<UInt>, count: Int) throws(ArenaError) -> Int {
        var taken = 0
        let size = UInt(SizeClasses.sizes[c])
        while taken < count {
            if partial[c].isEmpty && spare[c] == nil {
                if taken > 0 { break }
                out[0] = try allocateBlock(sizeClass: c)  // maps the page and takes its first block
                taken = 1
                continue
            }
            if partial[c].isEmpty, let p = spare[c] {
                spare[c] = nil
                pushPartial(c, p, at: slabs.slot(forKey: p)!)
            }
            let page = partial[c].last!
            let i = slabs.slot(forKey: page)!
            let want = count - taken
            let full: Bool = slabs.withValue(slot: i) { slab in
                var w = 0
                var got = 0
                while got < want && w < slab.bits.count {
                    var free = ~slab.bits[w]
                    while free != 0 && got < want {
                        let b = free.trailingZeroBitCount
                        free &= free &- 1
                        slab.bits[w] |= 1 << UInt64(b)
                        out[taken + got] = page + UInt(w * 64 + b) * size
                        got += 1
                    }
                    w += 1
                }
                slab.used += got
                taken += got
                return slab.used == slab.capacity
            }
            if full { removePartial(c, page, at: i) }
        }
        return taken
    }
}

extension ArenaCore {
    /// Flushes a thread cache: returns `count` blocks of class `c` to their slabs. Blocks of one page that follow
    /// each other share one table lookup. Every block is checked as `deallocate` checks it (slab of class `c`,
    /// start of a block, not already free).
    mutating func returnBlocks(sizeClass c: Int, from blocks: UnsafePointer<UInt>, count: Int) {
        let size = UInt(SizeClasses.sizes[c])
        let pageMask = ~UInt(pageSize - 1)
        // offset / size by a multiply (exact for offsets below 2^20): a division per block was ~10 % of a flush.
        let reciprocal = (UInt(1) << 32) / size + 1
        precondition(pageSize <= 1 << 20)
        var i = 0
        while i < count {
            let page = blocks[i] & pageMask
            guard let slot = slabs.slot(forKey: page) else {
                preconditionFailure("thread cache held \(blocks[i]), which is not a block of this arena")
            }
            var j = i
            var wasFull = false, nowEmpty = false
            slabs.withValue(slot: slot) { slab in
                precondition(slab.sizeClass == c, "deallocate: block \(blocks[i]) is in a \(SizeClasses.sizes[slab.sizeClass]) B slab, not \(size) B")
                wasFull = slab.used == slab.capacity
                while j < count && blocks[j] & pageMask == page {
                    let offset = blocks[j] - page
                    let n = Int((offset &* reciprocal) >> 32)
                    precondition(UInt(n) &* size == offset, "deallocate: \(blocks[j]) is not the start of a block")
                    let bit = UInt64(1) << UInt64(n & 63)
                    precondition(slab.bits[n >> 6] & bit != 0, "deallocate: double free of \(blocks[j])")
                    slab.bits[n >> 6] &= ~bit
                    slab.used -= 1
                    j += 1
                }
                nowEmpty = slab.used == 0
            }
            if wasFull { pushPartial(c, page, at: slot) }
            if nowEmpty {
                removePartial(c, page, at: slot)
                if spare[c] == nil {
                    spare[c] = page
                } else {
                    slabs[page] = nil
                    freePages(page, pages: 1)
                }
            }
            i = j
        }
    }
}
