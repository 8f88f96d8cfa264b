import MemProbeArena

/// The byte layout of a published-stats file (`<dir>/<pid>.stats`), schema version 2. Little-endian 64-bit words
/// unless noted; `−1` means "absent" in the governor block.
///
/// ```
/// header (0..<360)
///   0  magic "memprobe"            8  schema version u32, header bytes u32 (= 640)
///  16  file bytes                  24  pid
///  32  process start time (clock ticks since boot, /proc/<pid>/stat field 22)
///  40  sequence (seqlock: odd while the publisher writes; covers 48..<72 and 360..<end)
///  48  last update, CLOCK_MONOTONIC ns
///  56  arena count u32, arena capacity u32      64  arena record bytes u32 (= 256), arenas omitted u32
///  72  request sequence (written by a requester: a new value asks the governor to act)
///  80  reply sequence (written by the governor when it handled that request)
///  88  reply status (0 ok, else an errno value)
///  96  request kind u32, request path length u32
/// 104  request path, 256 bytes UTF-8 (e.g. where to write a heap profile)
/// governor block (360..<640): 35 words, see `GovernorWord`
/// arenas (640..): one 256-byte record each: id, label[48], strategy[48], the ArenaStats words in
///                       `ArenaStats.fields` order (17 in version 2), reserved
/// ```
package enum PublishedStatsLayout {
    package static let magic: UInt64 = 0x6562_6f72_706d_656d  // "memprobe" in little-endian byte order
    /// 2: the arena record carries every `ArenaStats.fields` word (version 1 had the first 14, before zeroed allocation).
    package static let schemaVersion: UInt32 = 2
    package static let headerBytes = 640
    package static let arenaRecordBytes = 256
    package static let arenaCapacity = 64
    package static let fileBytes = headerBytes + arenaCapacity * arenaRecordBytes  // 17,024
    /// Files larger than this are rejected unread (a hostile file cannot make the reader allocate much).
    package static let maximumFileBytes = 1 << 20

    package static let magicOffset = 0
    package static let versionOffset = 8
    package static let headerBytesOffset = 12
    package static let fileBytesOffset = 16
    package static let pidOffset = 24
    package static let startTimeOffset = 32
    package static let sequenceOffset = 40
    package static let updatedOffset = 48
    package static let arenaCountOffset = 56
    package static let arenaCapacityOffset = 60
    package static let arenaRecordBytesOffset = 64
    package static let arenasOmittedOffset = 68
    package static let requestSequenceOffset = 72
    package static let replySequenceOffset = 80
    package static let replyStatusOffset = 88
    package static let requestKindOffset = 96
    package static let requestPathLengthOffset = 100
    package static let requestPathOffset = 104
    package static let requestPathCapacity = 256
    package static let governorOffset = 360
    package static let labelBytes = 48
    package static let strategyBytes = 48
    /// Within an arena record.
    package static let arenaIDOffset = 0
    package static let arenaLabelOffset = 8
    package static let arenaStrategyOffset = 56
    package static let arenaStatsOffset = 104
    package static let arenaStatsWords = ArenaStats.fields.count

    /// The governor block's words (offset = governorOffset + 8 × rawValue).
    package enum GovernorWord: Int, CaseIterable {
        case flags = 0  // bit 0: a governor publishes; bit 1: running; bit 2: backing off; bit 3: has last overrun
        case limitBytes, limitSource, targetBytes, cgroupLimitBytes, watched, watchedBytes
        case releasedBytes, releaseCalls, limitReleasedBytes, trimCalls, trimReleasedBytes
        case cpuNanoseconds, runNanoseconds, ticks, overrunCount
        case lastOverrunUnixSeconds, lastOverrunWatchedBytes, lastOverrunLimitBytes
        case mallocInUseBytes, mallocFreeBytes
        package var offset: Int { PublishedStatsLayout.governorOffset + 8 * rawValue }
    }

    /// ArenaStats in record order: `ArenaStats.fields`, the one list of its figures.
    package static func words(_ s: ArenaStats) -> [Int] { ArenaStats.fields.map { s[keyPath: $0] } }

    package static func stats(_ w: [Int]) -> ArenaStats {
        var s = ArenaStats()
        for (path, value) in zip(ArenaStats.fields, w) { s[keyPath: path] = value }
        return s
    }
}
