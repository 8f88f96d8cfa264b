#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem

/// Every memory figure of one process in one snapshot: the kernel's view (smaps_rollup, status, statm), its memory
/// cgroup, and — for the calling process — the glibc heap and the PageArenas passed in.
///
/// The stored properties are the JSON schema (`memprobe snapshot --format json`, documented in `docs/snapshot.md`):
/// byte figures are integers, a figure that could not be read is `null` and named in ``missing``.
public struct MemStats: Codable, Sendable, Hashable {
    /// Version of the JSON schema; bumped on any incompatible change.
    public static let currentSchemaVersion = 1

    /// A figure that could not be read, and why.
    public struct Missing: Codable, Sendable, Hashable {
        public var figure: String
        public var reason: String
    }

    /// Figures of one PageArena of the calling process.
    public struct Arena: Codable, Sendable, Hashable {
        public var name: String
        public var strategy: String
        public var stats: ArenaStats
        /// Resident bytes of the arena's regions measured with mincore (lazily freed pages count as resident).
        public var resident: Int?
    }

    public var schemaVersion: Int
    public var pid: Int32
    /// The process name from status (`Name:`), if read.
    public var name: String?
    /// `full` (smaps_rollup, status, statm) or `fast` (status, statm).
    public var mode: String
    /// Resident set size (smaps_rollup Rss, else status VmRSS, else statm).
    public var rss: Int?
    /// Rss − LazyFree: what stays resident if the kernel reclaims lazily freed pages.
    public var effectiveRss: Int?
    /// Proportional set size (shared pages divided among sharers).
    public var pss: Int?
    /// Anonymous resident bytes (heap, stacks, anonymous mmap).
    public var anonymous: Int?
    /// File-backed resident bytes (status RssFile).
    public var file: Int?
    /// Shared-memory resident bytes (status RssShmem).
    public var shmem: Int?
    /// Pages given back with MADV_FREE that are still resident and counted in Rss.
    public var lazyFree: Int?
    /// Anonymous bytes mapped by transparent huge pages.
    public var anonHugePages: Int?
    /// Bytes swapped out.
    public var swap: Int?
    /// Mapped address space (VmSize), and its peak.
    public var vmSize: Int?
    public var vmPeak: Int?
    /// Peak resident set size (VmHWM).
    public var vmHWM: Int?
    public var threads: Int?
    /// Every smaps_rollup field, in bytes, by the kernel's name (unknown fields kept).
    public var smapsRollup: [String: Int]?
    /// The process's memory cgroup, when one was found.
    public var cgroup: MemoryCgroupSnapshot?
    /// glibc heap figures (mallinfo2); only for the calling process.
    public var mallocHeap: MallocInfo?
    /// PageArenas of the calling process that were passed to ``capture(pid:mode:arenas:)``; for another process,
    /// the arenas it publishes (see ``MemoryGovernor``), when the caller may read them.
    public var arenas: [Arena]
    /// The ``MemoryGovernor`` state another process publishes, when it runs one and the caller may read it.
    public var governor: GovernorState?
    /// System-wide memory pressure (PSI), when the kernel provides it.
    public var pressure: MemoryPressure?
    /// Figures that could not be read, with the reason.
    public var missing: [Missing]
    /// Resident bytes per NUMA node, from `/proc/<pid>/numa_maps` (full mode only; `nil` when not read).
    public var numaNodes: [NUMAMaps.Node]? = nil

    /// Takes a snapshot of `pid` (nil: the calling process).
    ///
    /// - Parameters:
    ///   - mode: `.full` reads smaps_rollup (O(resident pages), holds the target's mmap lock); `.fast` only status/statm.
    ///   - arenas: PageArenas of the calling process to include (ignored for another pid).
    /// - Throws: ``ProcessMemoryError`` when the process is gone, has no address space, or nothing may be read.
    public static func capture(
        pid: Int32? = nil, mode: ProcessMemory.Mode = .full, arenas: [(name: String, arena: PageArena)] = []
    ) throws(ProcessMemoryError) -> MemStats {
        let memory = try ProcessMemory.read(pid: pid, mode: mode)
        let isSelf = pid == nil || pid == getpid()
        var missing = memory.missing.map { Missing(figure: $0.figure.rawValue, reason: $0.reason) }
        var cgroup: MemoryCgroupSnapshot?
        var pressure: MemoryPressure?
        if mode == .fast {
            // Fast mode is for sampling: status and statm only (a few µs each, no lock taken in the target).
            // No arena lock and no malloc bin walk either: arena figures come from their lock-free published copy,
            // mincore (`resident`) and mallinfo2 are left out.
            for figure in ["smapsRollup", "cgroup", "pressure", "numaNodes"] {
                missing.append(Missing(figure: figure, reason: "--fast reads status and statm only"))
            }
            if isSelf {
                missing.append(Missing(figure: "mallocHeap", reason: "fast mode does not walk the malloc bins (mallinfo2)"))
            }
        } else {
            do {
                cgroup = try MemoryCgroup.of(pid: memory.pid).snapshot()
            } catch {
                missing.append(Missing(figure: "cgroup", reason: error.description))
            }
            do { pressure = try MemoryPressure.read() } catch { missing.append(Missing(figure: "pressure", reason: error.description)) }
        }
        var numaNodes: [NUMAMaps.Node]?
        if mode == .full {
            do { numaNodes = try NUMAMaps.read(pid: memory.pid).nodes } catch { missing.append(Missing(figure: "numaNodes", reason: error.description)) }
        }

        let rollup = memory.rollup
        var smaps: [String: Int]?
        if let rollup {
            var d: [String: Int] = [:]
            for f in rollup.fields { d[f.name] = f.bytes }
            smaps = d
        }
        var arenaFigures: [Arena] = isSelf ? arenas.map { entry in
            Arena(name: entry.name, strategy: entry.arena.strategy.description, stats: entry.arena.stats,
                  resident: mode == .fast ? nil : try? entry.arena.residentBytes())
        } : []
        var governor: GovernorState?
        if !isSelf {
            // Another process's own figures, from the file its governor publishes (no cooperation at read time).
            do {
                let published = try PublishedStatsReader.read(pid: memory.pid)
                arenaFigures = published.arenas
                governor = published.governor
                if published.arenasOmitted > 0 {
                    missing.append(Missing(figure: "arenas", reason: "\(published.arenasOmitted) arenas beyond the published file's capacity"))
                }
            } catch .notPublished {
                // Most processes do not link memprobe: nothing to report.
            } catch {
                missing.append(Missing(figure: "published", reason: error.description))
            }
        }
        return MemStats(
            schemaVersion: currentSchemaVersion,
            pid: memory.pid,
            name: memory.status?.name,
            mode: mode.rawValue,
            rss: memory.residentBytes,
            effectiveRss: memory.effectiveResidentBytes,
            pss: rollup?.pss,
            anonymous: rollup?.anonymous ?? memory.status?.rssAnon,
            file: memory.status?.rssFile,
            shmem: memory.status?.rssShmem,
            lazyFree: rollup?.lazyFree,
            anonHugePages: rollup?.anonHugePages,
            swap: rollup?.swap ?? memory.status?.vmSwap,
            vmSize: memory.status?.vmSize ?? memory.statm?.size,
            vmPeak: memory.status?.vmPeak,
            vmHWM: memory.status?.vmHWM,
            threads: memory.status?.threads,
            smapsRollup: smaps,
            cgroup: cgroup,
            mallocHeap: isSelf && mode != .fast ? MallocHeap.info() : nil,
            arenas: arenaFigures,
            governor: governor,
            pressure: pressure,
            missing: missing,
            numaNodes: numaNodes
        )
    }
}

extension MemStats {
    private enum CodingKeys: String, CodingKey {
        case schemaVersion, pid, name, mode, rss, effectiveRss, pss, anonymous, file, shmem, lazyFree, anonHugePages, swap
        case vmSize, vmPeak, vmHWM, threads, smapsRollup, cgroup, mallocHeap, arenas, governor, pressure, missing
        case numaNodes
    }

    /// Encodes every documented key, writing `null` for a figure that was not read (rather than omitting the key),
    /// so consumers can rely on the schema's shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(pid, forKey: .pid)
        try c.encode(name, forKey: .name)
        try c.encode(mode, forKey: .mode)
        try c.encode(rss, forKey: .rss)
        try c.encode(effectiveRss, forKey: .effectiveRss)
        try c.encode(pss, forKey: .pss)
        try c.encode(anonymous, forKey: .anonymous)
        try c.encode(file, forKey: .file)
        try c.encode(shmem, forKey: .shmem)
        try c.encode(lazyFree, forKey: .lazyFree)
        try c.encode(anonHugePages, forKey: .anonHugePages)
        try c.encode(swap, forKey: .swap)
        try c.encode(vmSize, forKey: .vmSize)
        try c.encode(vmPeak, forKey: .vmPeak)
        try c.encode(vmHWM, forKey: .vmHWM)
        try c.encode(threads, forKey: .threads)
        try c.encode(smapsRollup, forKey: .smapsRollup)
        try c.encode(cgroup, forKey: .cgroup)
        try c.encode(mallocHeap, forKey: .mallocHeap)
        try c.encode(arenas, forKey: .arenas)
        try c.encode(governor, forKey: .governor)
        try c.encode(pressure, forKey: .pressure)
        try c.encode(missing, forKey: .missing)
        try c.encode(numaNodes, forKey: .numaNodes)
    }
}
