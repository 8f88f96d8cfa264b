import MemProbe
import MemProbeArena

/// One side of `memprobe compare`: a map implementation plus what it does to give memory back.
///
/// Names are stable (scripts match them): `dictionary`, `dictionary+trim`, `dictionary-boxed`,
/// `dictionary-boxed+trim`, and `arena:<strategy>` for every ``ReleaseStrategy``.
package enum CompareContender: String, CaseIterable, Codable, Sendable, Hashable, CustomStringConvertible {
    /// `Dictionary<Int, Payload>` (values inline in the table) on glibc malloc; nothing is done to release memory.
    case dictionary = "dictionary"
    /// As `dictionary`, and the force-release step calls `malloc_trim(0)`.
    case dictionaryTrim = "dictionary+trim"
    /// `Dictionary<Int, Box>` with one malloc'd heap object per value (glibc keeps freed interior pages).
    case dictionaryBoxed = "dictionary-boxed"
    /// As `dictionary-boxed`, and the force-release step calls `malloc_trim(0)`.
    case dictionaryBoxedTrim = "dictionary-boxed+trim"
    /// `ArenaMap` on a `PageArena` that keeps freed pages dirty.
    case arenaRetain = "arena:retain"
    /// `ArenaMap` on a `PageArena` that MADV_FREEs freed pages.
    case arenaLazyFree = "arena:lazyFree"
    /// `ArenaMap` on a `PageArena` that MADV_DONTNEEDs freed pages.
    case arenaDontNeed = "arena:dontNeed"
    /// `ArenaMap` on a `PageArena` that munmaps freed pages.
    case arenaUnmap = "arena:unmap"
    /// `ArenaMap` on a `PageArena` that DONTNEEDs pages idle for ``decayDelay``.
    case arenaDecay = "arena:decay"
    /// `ArenaMap` on a `PageArena` that MADV_FREEs at once and MADV_PAGEOUTs pages still lazy after ``decayDelay``.
    case arenaFreeThenPageOut = "arena:freeThenPageOut"

    /// The delay of `arena:decay` and `arena:freeThenPageOut`: short, so a run does not wait long
    /// (jemalloc's default is 10 s). The `released` step waits this long (plus a margin) before releasing.
    package static let decayDelay: Duration = .milliseconds(200)

    package var description: String { rawValue }

    /// Whether the contender is an `ArenaMap` (its allocator figures come from the arena's books).
    package var isArena: Bool { arenaStrategy != nil }

    /// Whether values are separate heap objects.
    package var isBoxed: Bool { self == .dictionaryBoxed || self == .dictionaryBoxedTrim }

    /// Whether the force-release step calls `malloc_trim(0)`.
    package var trims: Bool { self == .dictionaryTrim || self == .dictionaryBoxedTrim }

    /// The arena's release strategy, nil for the `Dictionary` contenders.
    package var arenaStrategy: ReleaseStrategy? {
        switch self {
        case .dictionary, .dictionaryTrim, .dictionaryBoxed, .dictionaryBoxedTrim: nil
        case .arenaRetain: .retain
        case .arenaLazyFree: .lazyFree
        case .arenaDontNeed: .dontNeed
        case .arenaUnmap: .unmap
        case .arenaDecay: .decay(delay: Self.decayDelay)
        case .arenaFreeThenPageOut: .freeThenPageOut(delay: Self.decayDelay)
        }
    }

    /// Parses a comma-separated list (`all` for every contender); names are matched case-insensitively.
    /// - Throws: ``CompareError/unknownContender(_:)`` naming the first unknown entry.
    package static func parseList(_ text: String) throws(CompareError) -> [CompareContender] {
        var result: [CompareContender] = []
        for part in text.split(separator: ",") {
            let name = String(part).trimmingSpaces
            if name.lowercased() == "all" {
                for c in allCases where !result.contains(c) { result.append(c) }
                continue
            }
            guard let c = allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
                throw .unknownContender(name)
            }
            if !result.contains(c) { result.append(c) }
        }
        guard !result.isEmpty else { throw .unknownContender(text) }
        return result
    }
}

/// What `memprobe compare` does with each contender's map.
package enum CompareScenario: String, CaseIterable, Codable, Sendable, Hashable, CustomStringConvertible {
    /// Insert N values, remove them one by one, drop the map, force a release (the article's experiment).
    case seed
    /// Remove all but `--keep`, force a release with the map alive, then copy the survivors into a new map.
    case keep
    /// Remove every value one by one and insert them again, ``refillRounds`` times.
    case refill
    /// A cache at steady size: ``churnOperationsPerItem`` × N random remove+insert pairs.
    case churn

    /// Empty/refill rounds of `refill`.
    package static let refillRounds = 3
    /// Remove+insert pairs per item of `churn`, measured at each quarter.
    package static let churnOperationsPerItem = 2

    package var description: String { rawValue }

    /// The phases the scenario records, in order (`pressure` is inserted after ``pressureAfter`` with `--memory-limit`).
    package var phases: [String] {
        switch self {
        case .seed: ["start", "inserted", "removed", "dropped", "released"]
        case .keep: ["start", "inserted", "removed", "released", "copied"]
        case .refill:
            ["start", "inserted"] + (1...Self.refillRounds).flatMap { ["emptied-\($0)", "refilled-\($0)"] }
        case .churn: ["start", "filled", "churn-25%", "churn-50%", "churn-75%", "churn-100%"]
        }
    }

    /// The phase after which the `pressure` phase runs: the first one that deleted values.
    package var pressureAfter: String {
        switch self {
        case .seed, .keep: "removed"
        case .refill: "emptied-1"
        case .churn: "churn-100%"
        }
    }

    /// The phases with `pressure` after ``pressureAfter`` when `withPressure`.
    package func phases(withPressure: Bool) -> [String] {
        guard withPressure else { return phases }
        var p = phases
        if let i = p.firstIndex(of: pressureAfter) { p.insert("pressure", at: i + 1) }
        return p
    }

    /// Parses a comma-separated list (`all` for every scenario), case-insensitively.
    package static func parseList(_ text: String) throws(CompareError) -> [CompareScenario] {
        var result: [CompareScenario] = []
        for part in text.split(separator: ",") {
            let name = String(part).trimmingSpaces.lowercased()
            if name == "all" {
                for s in allCases where !result.contains(s) { result.append(s) }
                continue
            }
            guard let s = CompareScenario(rawValue: name) else { throw .unknownScenario(String(part)) }
            if !result.contains(s) { result.append(s) }
        }
        guard !result.isEmpty else { throw .unknownScenario(text) }
        return result
    }
}

/// How a contender's run ended.
package enum CompareOutcome: String, Codable, Sendable, Hashable {
    /// The phase was measured.
    case ok
    /// The kernel's OOM killer killed the child (SIGKILL and the cgroup's `oom_kill` count rose).
    case oomKilled = "oom-killed"
    /// The child died of another signal, exited non-zero, or wrote something unreadable.
    case crashed
}

/// Bad input to `memprobe compare`, each with the valid choices.
package enum CompareError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownContender(String)
    case unknownScenario(String)
    case invalidCount(option: String, value: String)
    case invalidSize(option: String, value: String)

    package var description: String {
        switch self {
        case .unknownContender(let s):
            "unknown contender '\(s)'; valid: all, \(CompareContender.allCases.map(\.rawValue).joined(separator: ", "))"
        case .unknownScenario(let s):
            "unknown scenario '\(s)'; valid: all, \(CompareScenario.allCases.map(\.rawValue).joined(separator: ", "))"
        case .invalidCount(let o, let v): "\(o) '\(v)' is not a whole number ≥ 1"
        case .invalidSize(let o, let v):
            "\(o) '\(v)' is not a size; use bytes or a binary suffix, e.g. 1024, 64k, 700M, 1.5G"
        }
    }
}
