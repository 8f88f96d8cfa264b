import MemProbeSystem

extension PageArena {
    /// Faults in the whole pages of an allocation the caller owns and is about to write (MADV_POPULATE_WRITE), so
    /// filling it costs one system call instead of one page fault per page. Counted in ``ArenaStats/madviseCalls``
    /// and ``ArenaStats/madviseBytes`` like the arena's own advice.
    ///
    /// Best effort: below 64 KiB (a size-class block shares its page with other allocations) nothing is done, and a
    /// kernel without MADV_POPULATE_WRITE (< 5.14) leaves the pages to fault in on first write as before.
    /// The call runs outside the allocation lock: populating hundreds of MiB must not stall other threads.
    public func populate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let page = VirtualMemory.pageSize
        guard byteCount >= Self.populateMinimum else { return }
        let start = (UInt(bitPattern: pointer) + UInt(page) - 1) / UInt(page) * UInt(page)
        let end = (UInt(bitPattern: pointer) + UInt(byteCount)) / UInt(page) * UInt(page)
        guard end > start else { return }
        let t0 = monotonicNanoseconds()
        let done = (try? VirtualMemory.advise(UnsafeMutableRawPointer(bitPattern: start)!, byteCount: Int(end - start), .populateWrite)) != nil
        let elapsed = monotonicNanoseconds() - t0
        core.withLock { c in
            c.stats.madviseCalls += 1
            c.stats.syscallNanoseconds += elapsed
            if done { c.stats.madviseBytes += Int(end - start) }
            publish(c)
        }
    }

    /// Smallest allocation ``populate(_:byteCount:)`` acts on.
    static let populateMinimum = 64 << 10
}
