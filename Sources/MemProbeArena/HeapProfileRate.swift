#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The heap profile's sampling interval: the mean number of allocated bytes between two samples.
///
/// Default 512 KiB (Go's `MemProfileRate`, jemalloc's `lg_prof_sample:19`). Set process-wide with
/// `MEMPROBE_PROFILE_RATE` (bytes, with an optional `K`/`KiB`/`M`/`MiB`/`G`/`GiB` suffix, binary multiples;
/// `0` turns profiling off) or per arena with ``PageArena/Configuration/heapProfileInterval``.
public enum HeapProfileRate {
    /// 512 KiB.
    public static let defaultInterval = 512 << 10

    /// Parses a size such as `524288`, `512K`, `512KiB`, `2M`, `0`. Returns the bytes, or nil for anything else
    /// (negative, fractional, unknown suffix, overflow).
    public static func parse(_ text: String) -> Int? {
        var t = Substring(text)
        while let c = t.first, c == " " || c == "\t" { t.removeFirst() }
        while let c = t.last, c == " " || c == "\t" { t.removeLast() }
        let digits = t.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let n = Int(digits) else { return nil }
        let suffix = t.dropFirst(digits.count).lowercased()
        let shift: Int
        switch suffix {
        case "", "b": shift = 0
        case "k", "kb", "kib": shift = 10
        case "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        default: return nil
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : v
    }

    /// `MEMPROBE_PROFILE_RATE` parsed, or nil when it is not set.
    /// - Throws: ``HeapProfileRateError`` for a value ``parse(_:)`` rejects.
    public static func fromEnvironment() throws(HeapProfileRateError) -> Int? {
        guard let raw = getenv("MEMPROBE_PROFILE_RATE") else { return nil }
        let value = String(cString: raw)
        guard let bytes = parse(value) else { throw HeapProfileRateError(value: value) }
        return bytes
    }

    /// The interval arenas use unless configured otherwise: `MEMPROBE_PROFILE_RATE`, else 512 KiB. An invalid
    /// value stops the process at the first arena with the accepted forms: a misspelt setting must not silently
    /// profile at another rate.
    public static let processDefault: Int = {
        do {
            return try fromEnvironment() ?? defaultInterval
        } catch {
            fatalError("\(error)")
        }
    }()
}

/// An unparsable `MEMPROBE_PROFILE_RATE`.
public struct HeapProfileRateError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The value found.
    public var value: String
    public init(value: String) { self.value = value }
    public var description: String {
        "MEMPROBE_PROFILE_RATE='\(value)' is not a size: give bytes, optionally with K, KiB, M, MiB, G or GiB (e.g. 512K); 0 turns heap profiling off"
    }
}

/// Whether an arena samples its allocations for heap profiles.
public enum HeapProfileStatus: Hashable, Sendable, CustomStringConvertible {
    /// Sampling, with this mean interval in bytes.
    case sampling(interval: Int)
    /// Turned off (interval 0).
    case off
    /// Asked for but impossible here; the arena works unchanged without it.
    case unavailable(reason: String)

    public var description: String {
        switch self {
        case .sampling(let n): "sampling every \(n) bytes on average"
        case .off: "off"
        case .unavailable(let r): "unavailable: \(r)"
        }
    }
}
