/// System-wide memory pressure stall information from `/proc/pressure/memory` (PSI).
///
/// Percentages are the share of wall time in which some (or all) non-idle tasks stalled on memory.
public struct MemoryPressure: Codable, Sendable, Hashable {
    /// One line of the file (`some` or `full`).
    public struct Stall: Codable, Sendable, Hashable {
        /// Percent of the last 10 s.
        public var avg10: Double
        /// Percent of the last 60 s.
        public var avg60: Double
        /// Percent of the last 300 s.
        public var avg300: Double
        /// Total stall time since boot, in microseconds.
        public var totalMicroseconds: Int

        /// Creates a value.
        public init(avg10: Double, avg60: Double, avg300: Double, totalMicroseconds: Int) {
            self.avg10 = avg10
            self.avg60 = avg60
            self.avg300 = avg300
            self.totalMicroseconds = totalMicroseconds
        }
    }

    /// At least one task stalled on memory.
    public var some: Stall
    /// All non-idle tasks stalled at once (absent on kernels before 5.2's `full` for memory: `nil`).
    public var full: Stall?

    /// Creates a value.
    public init(some: Stall, full: Stall?) {
        self.some = some
        self.full = full
    }

    /// The file read by ``read()``.
    public static let path = "/proc/pressure/memory"

    /// Parses the file's text; `nil` without a valid `some` line.
    public static func parse(_ text: String) -> MemoryPressure? {
        var some: Stall?
        var full: Stall?
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: isProcWhitespace)
            guard let kind = parts.first else { continue }
            var a10: Double?, a60: Double?, a300: Double?, total: Int?
            for p in parts.dropFirst() {
                guard let eq = p.firstIndex(of: "=") else { continue }
                let key = p[..<eq]
                let value = p[p.index(after: eq)...]
                switch key {
                case "avg10": a10 = Double(value)
                case "avg60": a60 = Double(value)
                case "avg300": a300 = Double(value)
                case "total": total = Int(value)
                default: break
                }
            }
            guard let a10, let a60, let a300, let total else { continue }
            let stall = Stall(avg10: a10, avg60: a60, avg300: a300, totalMicroseconds: total)
            if kind == "some" { some = stall } else if kind == "full" { full = stall }
        }
        guard let some else { return nil }
        return MemoryPressure(some: some, full: full)
    }

    /// Reads `/proc/pressure/memory`; `nil` when the kernel has no PSI (file absent, or `EOPNOTSUPP` when built
    /// with `CONFIG_PSI_DEFAULT_DISABLED` and booted without `psi=1`).
    public static func read() throws(ProcFileError) -> MemoryPressure? {
        let text: String
        do {
            text = try ProcFile.read(path)
        } catch .noSuchProcess {
            return nil
        } catch .system(let e) where e.errno == .notSupported {
            return nil
        }
        guard let p = parse(text) else { throw .malformed(path: path, detail: "no valid \"some\" line") }
        return p
    }
}
