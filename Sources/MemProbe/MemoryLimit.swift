#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem

/// How the governor's soft memory limit is chosen (the equivalent of Go's `GOMEMLIMIT`).
public enum MemoryLimitSetting: Sendable, Hashable, CustomStringConvertible {
    /// A limit in bytes.
    case bytes(Int)
    /// A fraction (0 < f ≤ 1) of the process's memory cgroup limit.
    case cgroupFraction(Double)
    /// No soft limit.
    case off

    /// The environment variable read by ``fromEnvironment()``.
    public static let environmentVariable = "MEMPROBE_MEMORY_LIMIT"
    /// The share of the memory cgroup limit used when nothing is configured: 90 % leaves the kernel room for
    /// page cache and what the governor cannot release before the hard limit OOM-kills.
    public static let defaultCgroupFraction = 0.9
    /// The smallest limit accepted (below it a service cannot run at all).
    public static let minimumBytes = 1 << 20
    /// The forms ``init(parsing:)`` accepts, for error messages.
    public static let acceptedForms =
        "a size such as 800MiB, 2GiB, 1.5G, 512M, 1048576 (bytes; B, K/KiB, M/MiB, G/GiB, T/TiB, binary units), "
        + "a share of the memory cgroup limit such as 90%, or off"

    /// Parses `800MiB`, `2GiB`, `1.5G`, `1048576`, `90%` or `off` (also `none`), case-insensitive.
    /// - Throws: ``MemoryLimitError/invalid(_:reason:)`` naming the accepted forms.
    public init(parsing text: String) throws(MemoryLimitError) {
        let t = text.trimmingSpaces.lowercased()
        if t.isEmpty { throw .invalid(text, reason: "empty") }
        if t == "off" || t == "none" { self = .off; return }
        if t.hasSuffix("%") {
            let number = String(t.dropLast()).trimmingSpaces
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let v = Double(number), v.isFinite
            else { throw .invalid(text, reason: "not a percentage") }
            guard v > 0, v <= 100 else { throw .invalid(text, reason: "a percentage must be > 0 and ≤ 100") }
            self = .cgroupFraction(v / 100)
            return
        }
        if t.hasPrefix("-") { throw .invalid(text, reason: "negative") }
        guard let first = t.first, first.isASCII, first.isNumber || first == "." else {
            throw .invalid(text, reason: "not a size")
        }
        guard let bytes = ByteFormat.parse(t) else {
            let digits = t.prefix { $0.isNumber || $0 == "." }
            if let v = Double(digits), v > 9.0e18 / 1024 { throw .invalid(text, reason: "too large") }
            throw .invalid(text, reason: "unknown unit or malformed number")
        }
        guard bytes >= Self.minimumBytes else {
            throw .invalid(text, reason: "below the minimum of \(ByteFormat.human(Self.minimumBytes))")
        }
        self = .bytes(bytes)
    }

    /// The setting in `MEMPROBE_MEMORY_LIMIT`, or nil when it is unset or empty.
    /// - Throws: ``MemoryLimitError/invalid(_:reason:)`` for anything else than an accepted form.
    public static func fromEnvironment() throws(MemoryLimitError) -> MemoryLimitSetting? {
        guard let raw = getenv(environmentVariable) else { return nil }
        let value = String(cString: raw)
        if value.trimmingSpaces.isEmpty { return nil }
        do { return try MemoryLimitSetting(parsing: value) } catch {
            throw .environment(variable: environmentVariable, error)
        }
    }

    public var description: String {
        switch self {
        case .bytes(let b): ByteFormat.human(b)
        case .cgroupFraction(let f): "\(ByteFormat.oneDecimal(f * 100)) % of the memory cgroup limit"
        case .off: "off"
        }
    }
}

/// A bad soft-memory-limit setting.
public enum MemoryLimitError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text is no accepted form.
    case invalid(String, reason: String)
    /// `MEMPROBE_MEMORY_LIMIT` holds an invalid value.
    indirect case environment(variable: String, MemoryLimitError)
    /// A share of the cgroup limit was asked for but the process's memory cgroup has no limit (or none was found).
    case noCgroupLimit(String)

    public var description: String {
        switch self {
        case .invalid(let text, let reason):
            "invalid memory limit \"\(text)\" (\(reason)); expected \(MemoryLimitSetting.acceptedForms)"
        case .environment(let variable, let e): "\(variable): \(e)"
        case .noCgroupLimit(let why): "a share of the memory cgroup limit was asked for, but \(why)"
        }
    }
}

/// Where the soft limit in force came from.
public enum MemoryLimitSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// Given in the governor's configuration.
    case configuration
    /// `MEMPROBE_MEMORY_LIMIT`.
    case environment
    /// The memory cgroup limit (times ``MemoryLimitSetting/defaultCgroupFraction`` unless configured).
    case cgroup
    /// No limit: none configured and no limited memory cgroup.
    case none
}

/// The soft limit in force, resolved once at start-up.
public struct ResolvedMemoryLimit: Sendable, Hashable, Codable {
    /// The soft limit in bytes, nil when there is none.
    public var bytes: Int?
    /// Where it came from.
    public var source: MemoryLimitSource
    /// The memory cgroup watched (when the process is in one with a limit): its working set is the figure the
    /// governor keeps under the limit; otherwise RSS − LazyFree.
    public var cgroup: MemoryCgroup?
    /// The cgroup's effective hard limit, when there is one.
    public var cgroupLimit: Int?

    /// Resolves the limit: `configured` wins, then `MEMPROBE_MEMORY_LIMIT`, then the memory cgroup limit ×
    /// ``MemoryLimitSetting/defaultCgroupFraction``; no limit otherwise.
    /// - Parameters:
    ///   - environment: the environment variable's setting (pass ``MemoryLimitSetting/fromEnvironment()``).
    ///   - cgroup: the process's memory cgroup (nil: none found).
    public static func resolve(
        configured: MemoryLimitSetting?, environment: MemoryLimitSetting?, cgroup: MemoryCgroup?
    ) throws(MemoryLimitError) -> ResolvedMemoryLimit {
        let hard: Int? = cgroup.flatMap { try? $0.effectiveLimit() }
        let limitedCgroup = hard == nil ? nil : cgroup
        let (setting, source): (MemoryLimitSetting, MemoryLimitSource)
        if let configured { (setting, source) = (configured, .configuration) }
        else if let environment { (setting, source) = (environment, .environment) }
        else if hard != nil { (setting, source) = (.cgroupFraction(MemoryLimitSetting.defaultCgroupFraction), .cgroup) }
        else { return ResolvedMemoryLimit(bytes: nil, source: .none, cgroup: nil, cgroupLimit: nil) }
        switch setting {
        case .off:
            return ResolvedMemoryLimit(bytes: nil, source: source, cgroup: limitedCgroup, cgroupLimit: hard)
        case .bytes(let b):
            return ResolvedMemoryLimit(bytes: b, source: source, cgroup: limitedCgroup, cgroupLimit: hard)
        case .cgroupFraction(let f):
            guard let hard else {
                throw .noCgroupLimit(cgroup.map { "\($0) has no limit" } ?? "no memory cgroup was found")
            }
            return ResolvedMemoryLimit(
                bytes: max(Int(Double(hard) * f), MemoryLimitSetting.minimumBytes), source: source,
                cgroup: limitedCgroup, cgroupLimit: hard)
        }
    }

    /// Resolves from the configuration, the environment and the calling process's memory cgroup.
    public static func resolveForCurrentProcess(configured: MemoryLimitSetting?) throws(MemoryLimitError) -> ResolvedMemoryLimit {
        let env = try MemoryLimitSetting.fromEnvironment()
        return try resolve(configured: configured, environment: env, cgroup: try? MemoryCgroup.current())
    }
}
