import MemProbeArena
import MemProbeSystem

/// The one place ArenaMap talks to its ``PageArena``: every chunk, directory and index table of a map is
/// allocated and freed here, and the bytes held are reported from here.
///
/// Not inlinable on purpose: these calls sit on the slow paths (a new chunk, a new table), so the generic
/// hot paths stay small and the arena's API can change without touching them.
@usableFromInline
internal struct _ArenaAllocator: Sendable {
    @usableFromInline let arena: PageArena

    @usableFromInline
    init(_ arena: PageArena) { self.arena = arena }

    /// Allocates `byteCount` bytes. An arena that cannot map more memory is fatal, as it is for `Dictionary`
    /// when malloc fails: a map operation has no way to report it.
    @usableFromInline
    func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        do {
            return try arena.allocate(byteCount: byteCount, alignment: max(16, alignment))
        } catch {
            fatalError("ArenaMap: the arena could not allocate \(byteCount) bytes: \(error)")
        }
    }

    /// Returns an allocation made by ``allocate(byteCount:alignment:)`` with the same `byteCount`.
    @usableFromInline
    func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        arena.deallocate(pointer, byteCount: byteCount)
    }

    /// Bytes of arena pages (or size-class blocks) an allocation of `byteCount` bytes occupies.
    @usableFromInline
    func reservedSize(forByteCount byteCount: Int) -> Int {
        arena.reservedSize(forByteCount: byteCount)
    }

    /// Allocates `byteCount` bytes that read as zero.
    ///
    /// Large, page-aligned runs are zeroed with MADV_DONTNEED instead of `memset`: the pages then fault in one at a
    /// time as the index table fills, so growing a table never touches megabytes in a single operation.
    /// The run belongs to us, so advising it cannot disturb anyone else's memory.
    @usableFromInline
    func allocateZeroed(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let p = allocate(byteCount: byteCount, alignment: alignment)
        let page = VirtualMemory.pageSize
        let address = Int(bitPattern: p)
        let wholePages = byteCount / page * page
        if byteCount >= 64 << 10, address % page == 0, wholePages > 0,
           (try? VirtualMemory.advise(p, byteCount: wholePages, .dontNeed)) != nil {
            if byteCount > wholePages { (p + wholePages).initializeMemory(as: UInt8.self, repeating: 0, count: byteCount - wholePages) }
        } else {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        }
        return p
    }
}

extension _ArenaAllocator {
    /// Faults in the whole pages of an allocation of ours that is about to be written (MADV_POPULATE_WRITE).
    /// Best effort: a kernel without it (< 5.14) answers EINVAL and the pages fault in on first write as before.
    /// Runs under 64 KiB are left alone (a size-class block shares its page with other allocations).
    @usableFromInline
    func prefault(_ p: UnsafeMutableRawPointer, byteCount: Int) {
        let page = VirtualMemory.pageSize
        guard byteCount >= 64 << 10 else { return }
        let start = (Int(bitPattern: p) + page - 1) / page * page
        let end = (Int(bitPattern: p) + byteCount) / page * page
        guard end > start else { return }
        try? VirtualMemory.advise(UnsafeMutableRawPointer(bitPattern: start)!, byteCount: end - start, .populateWrite)
    }
}

extension PageArena {
    /// Used by `ArenaMap()`: the process-wide arena.
    @usableFromInline
    internal static var _defaultForMaps: PageArena { .shared }
}
