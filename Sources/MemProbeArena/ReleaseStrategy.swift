#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What a ``PageArena`` does with pages that become free. Chosen at run time, per arena or process-wide with
/// the `MEMPROBE_RELEASE` environment variable (the equivalent of Go's `GODEBUG=madvdontneed=1`).
public enum ReleaseStrategy: Hashable, Sendable, CustomStringConvertible {
    /// Keep freed pages dirty and resident (glibc's and pre-scavenger Go's behaviour). Reuse is free; RSS never falls.
    case retain
    /// MADV_FREE freed pages: RSS does not fall, LazyFree rises; the kernel takes them back only under pressure.
    case lazyFree
    /// MADV_DONTNEED freed pages: RSS falls at once; reuse faults in zeroed pages.
    case dontNeed
    /// munmap freed pages: RSS and the arena's address space (Sys) fall.
    case unmap
    /// Keep freed pages dirty for `delay`, then MADV_DONTNEED them if still idle (jemalloc's decay, simplified
    /// to one deadline per free run).
    case decay(delay: Duration)
    /// MADV_FREE freed pages at once; pages still lazily freed after `delay` are discarded with MADV_PAGEOUT,
    /// which works without swap and makes RSS fall.
    case freeThenPageOut(delay: Duration)

    /// The delay `decay` and `freeThenPageOut` use when the name has no `:<delay>` (jemalloc's `dirty_decay_ms` default).
    public static let defaultDelay: Duration = .seconds(10)

    /// The names ``init(parsing:)`` accepts.
    public static let validNames = ["retain", "lazyFree", "dontNeed", "unmap", "decay", "freeThenPageOut"]

    /// Parses `retain`, `lazyFree`, `dontNeed`, `unmap`, `decay[:<delay>]` or `freeThenPageOut[:<delay>]`
    /// (case-insensitive; delay like `500ms`, `1s`, `250us`, `2m`, or a bare number of milliseconds).
    /// - Throws: ``ArenaError/invalidStrategy(_:valid:)`` listing the valid names.
    public init(parsing text: String) throws(ArenaError) {
        let trimmed = text.trimmingSpaces
        let parts = trimmed.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts[0].lowercased()
        let delayText = parts.count > 1 ? String(parts[1]) : nil
        let invalid = ArenaError.invalidStrategy(text, valid: Self.validNames)
        func delay() throws(ArenaError) -> Duration {
            guard let d = delayText else { return Self.defaultDelay }
            guard let parsed = Self.parseDuration(d) else { throw invalid }
            return parsed
        }
        switch name {
        case "retain" where delayText == nil: self = .retain
        case "lazyfree" where delayText == nil: self = .lazyFree
        case "dontneed" where delayText == nil: self = .dontNeed
        case "unmap" where delayText == nil: self = .unmap
        case "decay": self = .decay(delay: try delay())
        case "freethenpageout": self = .freeThenPageOut(delay: try delay())
        default: throw invalid
        }
    }

    /// The strategy named by the `MEMPROBE_RELEASE` environment variable, or `nil` when it is unset or empty.
    /// - Throws: ``ArenaError/invalidStrategy(_:valid:)`` when it names no strategy: a typo is an error, not a default.
    public static func fromEnvironment() throws(ArenaError) -> ReleaseStrategy? {
        guard let raw = getenv("MEMPROBE_RELEASE") else { return nil }
        let value = String(cString: raw)
        if value.trimmingSpaces.isEmpty { return nil }
        return try ReleaseStrategy(parsing: value)
    }

    /// The name ``init(parsing:)`` reads back, e.g. `decay:500ms`.
    public var description: String {
        switch self {
        case .retain: "retain"
        case .lazyFree: "lazyFree"
        case .dontNeed: "dontNeed"
        case .unmap: "unmap"
        case .decay(let d): "decay:\(Self.format(d))"
        case .freeThenPageOut(let d): "freeThenPageOut:\(Self.format(d))"
        }
    }

    static func format(_ d: Duration) -> String {
        let ns = d.nanosecondsClamped
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1_000 == 0 { return "\(ns / 1_000)us" }
        return "\(ns)ns"
    }

    static func parseDuration(_ text: String) -> Duration? {
        let t = text.trimmingSpaces.lowercased()
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60)]
        var number = t
        var scale = 1e-3  // a bare number means milliseconds
        for (suffix, s) in units where t.hasSuffix(suffix) {
            number = String(t.dropLast(suffix.count))
            scale = s
            break
        }
        guard let v = Double(number), v.isFinite, v >= 0, v * scale < 1e9 else { return nil }
        return .nanoseconds(Int64((v * scale * 1e9).rounded()))
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
