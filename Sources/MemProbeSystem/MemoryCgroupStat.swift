/// The `memory.stat` file of a memory cgroup: every key kept, with typed accessors for the common ones.
///
/// On v1 the accessors prefer the hierarchical `total_*` keys (this cgroup and its descendants, what
/// cAdvisor uses) and fall back to the local ones; v2 keys are hierarchical already. A key the kernel did
/// not write is `nil`, not zero. Sizes are in bytes; `pg*` keys are event counts.
public struct MemoryCgroupStat: Sendable, Hashable, Codable {
    /// The hierarchy the file came from (the key names differ).
    public let version: CgroupVersion
    /// Every `key value` pair of the file.
    public let values: [String: Int]

    /// Creates a stat from the keys of a `memory.stat` file.
    public init(version: CgroupVersion, values: [String: Int]) {
        self.version = version
        self.values = values
    }

    /// Parses the text of a `memory.stat` file; lines that do not parse are skipped.
    public init(parsing text: String, version: CgroupVersion) {
        self.init(version: version, values: parseKeyValues(text))
    }

    /// The value of any key, as the kernel names it.
    public subscript(key: String) -> Int? { values[key] }

    private func pick(v1 key: String, v2: String) -> Int? {
        switch version {
        case .v1: values["total_" + key] ?? values[key]
        case .v2: values[v2]
        }
    }

    /// Anonymous memory (v1 `rss`, v2 `anon`). Includes lazily freed (MADV_FREE) pages.
    public var anon: Int? { pick(v1: "rss", v2: "anon") }
    /// Page cache (v1 `cache`, v2 `file`).
    public var file: Int? { pick(v1: "cache", v2: "file") }
    /// Inactive file LRU (`inactive_file`); lazily freed anonymous pages are counted here too.
    public var inactiveFile: Int? { pick(v1: "inactive_file", v2: "inactive_file") }
    /// Active file LRU (`active_file`).
    public var activeFile: Int? { pick(v1: "active_file", v2: "active_file") }
    /// Inactive anonymous LRU (`inactive_anon`); new anonymous pages start here.
    public var inactiveAnon: Int? { pick(v1: "inactive_anon", v2: "inactive_anon") }
    /// Active anonymous LRU (`active_anon`).
    public var activeAnon: Int? { pick(v1: "active_anon", v2: "active_anon") }
    /// Anonymous transparent huge pages (v1 `rss_huge`, v2 `anon_thp`).
    public var anonHugePages: Int? { pick(v1: "rss_huge", v2: "anon_thp") }
    /// Shared memory and tmpfs (`shmem`).
    public var shmem: Int? { pick(v1: "shmem", v2: "shmem") }
    /// Page cache mapped into processes (v1 `mapped_file`, v2 `file_mapped`).
    public var mappedFile: Int? { pick(v1: "mapped_file", v2: "file_mapped") }
    /// Dirty page cache (v1 `dirty`, v2 `file_dirty`).
    public var dirty: Int? { pick(v1: "dirty", v2: "file_dirty") }
    /// Page cache under writeback (v1 `writeback`, v2 `file_writeback`).
    public var writeback: Int? { pick(v1: "writeback", v2: "file_writeback") }
    /// Unevictable memory (`unevictable`).
    public var unevictable: Int? { pick(v1: "unevictable", v2: "unevictable") }
    /// Page faults (`pgfault`), a count.
    public var pageFaults: Int? { pick(v1: "pgfault", v2: "pgfault") }
    /// Major page faults (`pgmajfault`), a count.
    public var majorPageFaults: Int? { pick(v1: "pgmajfault", v2: "pgmajfault") }
}

/// Every figure of a memory cgroup at one instant, including the derived working set and headroom.
///
/// Bytes are integers. `limit` and `headroom` are `nil` when the cgroup has no limit of its own.
public struct MemoryCgroupSnapshot: Sendable, Hashable, Codable {
    /// The hierarchy the cgroup lives in.
    public let version: CgroupVersion
    /// The cgroup's directory.
    public let directory: String
    /// Bytes charged (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    public let usage: Int
    /// The cgroup's own limit, `nil` = unlimited.
    public let limit: Int?
    /// The tightest limit of the cgroup and its ancestors, `nil` = none.
    public let effectiveLimit: Int?
    /// `usage − inactive_file`, floored at 0: what the kubelet (cAdvisor `working_set`) evicts on.
    public let workingSet: Int
    /// `limit − workingSet`, floored at 0; `nil` when unlimited.
    public let headroom: Int?
    /// Anonymous memory from `memory.stat` (includes lazily freed pages).
    public let anon: Int?
    /// Page cache from `memory.stat`.
    public let file: Int?
    /// `inactive_file` from `memory.stat` (page cache that is cheap to reclaim, and lazily freed pages).
    public let inactiveFile: Int?
    /// `active_file` from `memory.stat`.
    public let activeFile: Int?
    /// OOM kills in this cgroup so far, `nil` when the kernel does not report them.
    public let oomKills: Int?
    /// Charges that hit the limit (v1 `memory.failcnt`, v2 `memory.events` `max`).
    public let failCount: Int?
    /// The whole `memory.stat`.
    public let stat: MemoryCgroupStat

    /// Derives working set and headroom from the raw figures.
    public init(
        version: CgroupVersion, directory: String, usage: Int, limit: Int?, effectiveLimit: Int?,
        stat: MemoryCgroupStat, oomKills: Int?, failCount: Int?
    ) {
        self.version = version
        self.directory = directory
        self.usage = usage
        self.limit = limit
        self.effectiveLimit = effectiveLimit
        self.stat = stat
        self.oomKills = oomKills
        self.failCount = failCount
        self.anon = stat.anon
        self.file = stat.file
        self.inactiveFile = stat.inactiveFile
        self.activeFile = stat.activeFile
        let ws = max(0, usage - (stat.inactiveFile ?? 0))
        self.workingSet = ws
        self.headroom = limit.map { max(0, $0 - ws) }
    }
}
