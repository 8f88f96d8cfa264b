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
}

extension _ArenaAllocator {
    /// Faults in the pages of an allocation of ours that is about to be written: the arena does it
    /// (``PageArena/populate(_:byteCount:)``), so the map never advises arena memory itself.
    @usableFromInline
    func prefault(_ p: UnsafeMutableRawPointer, byteCount: Int) {
        arena.populate(p, byteCount: byteCount)
    }
}

extension PageArena {
    /// Used by `ArenaMap()`: the process-wide arena.
    @usableFromInline
    internal static var _defaultForMaps: PageArena { .shared }
}
