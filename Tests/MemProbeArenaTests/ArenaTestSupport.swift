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

/// `/proc/self/smaps` fields summed over the VMAs that overlap [start, end): the kernel's view of exactly the
/// arena's memory, unaffected by other tests allocating in this process at the same time.
func smapsFields(overlapping start: UInt, _ end: UInt) -> [String: Int] {
    guard let text = try? ProcFile.read(pid: nil, "smaps") else { return [:] }
    var out: [String: Int] = [:]
    var inRange = false
    for line in text.split(separator: "\n") {
        if let dash = line.firstIndex(of: "-"), line.first?.isHexDigit == true,
           let space = line.firstIndex(of: " "), dash < space,
           let lo = UInt(line[..<dash], radix: 16), let hi = UInt(line[line.index(after: dash)..<space], radix: 16) {
            inRange = lo < end && hi > start
            continue
        }
        guard inRange, let colon = line.firstIndex(of: ":") else { continue }
        let key = String(line[..<colon])
        let rest = line[line.index(after: colon)...].split(separator: " ")
        if rest.count == 2, rest[1] == "kB", let v = Int(rest[0]) { out[key, default: 0] += v * 1024 }
    }
    return out
}

/// The process-wide figures from smaps_rollup (Rss, LazyFree, AnonHugePages), in bytes.
func rollup() -> (rss: Int, lazyFree: Int, anonHuge: Int) {
    guard let r = try? SmapsRollup.read(pid: nil) else { return (0, 0, 0) }
    return (r.rss ?? 0, r.lazyFree ?? 0, r.anonHugePages ?? 0)
}
