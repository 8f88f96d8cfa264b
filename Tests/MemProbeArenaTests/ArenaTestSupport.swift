#if canImport(Glibc)
@preconcurrency import Glibc
#endif

import MemProbeArena
import MemProbeSystem
import MemProbeTestSupport
import Testing

/// Invariants that need the kernel: mincore-resident ≤ Sys − discarded.
func expectResidencyInvariant(_ arena: PageArena, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let s = arena.stats
    let resident = try arena.residentBytes()
    #expect(resident <= s.sys - s.heapReleasedDiscarded, "resident \(resident) > Sys − discarded: \(s)", sourceLocation: sourceLocation)
}

let pageSize = VirtualMemory.pageSize
