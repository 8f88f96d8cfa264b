#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeProfile

/// `--format json` for `memprobe-bench map` and `memprobe-bench arena`: one JSON object with every figure and
/// ratio under named keys, so a script can check regressions.
///
/// The benchmarks keep printing their Markdown tables; the sites that print a figure also hand it to this collector
/// (`BenchJSON.row(...)`, `BenchJSON.value(...)`). With `--format json`, ``begin(benchmark:)`` points stdout at
/// stderr for the run (the tables become progress output) and ``finish()`` writes the object to the real stdout:
/// `{"benchmark": "arena", "environment": {...}, "tables": {"<table>": [{row}, ...]}, "values": {...}}`.
enum BenchJSON {
    /// A JSON value: numbers (non-finite → null), strings, booleans.
    enum Value {
        case number(Double)
        case int(Int)
        case string(String)
        case bool(Bool)

        var json: String {
            switch self {
            case .number(let d): return d.isFinite ? "\(d)" : "null"
            case .int(let i): return "\(i)"
            case .string(let s): return JSONText.quoted(s)
            case .bool(let b): return b ? "true" : "false"
            }
        }
    }

    nonisolated(unsafe) private static var enabled = false
    nonisolated(unsafe) private static var realStdout: Int32 = -1
    nonisolated(unsafe) private static var benchmark = ""
    nonisolated(unsafe) private static var environment: [(String, Value)] = []
    nonisolated(unsafe) private static var tableOrder: [String] = []
    nonisolated(unsafe) private static var tables: [String: [[(String, Value)]]] = [:]
    nonisolated(unsafe) private static var values: [(String, Value)] = []

    /// Whether `--format json` is in force.
    static var isEnabled: Bool { enabled }

    /// Parses `--format text|json` at `arguments[i]`; returns false for other arguments. Exits 64 on a bad value.
    static func parseFormat(_ arguments: [String], at i: inout Int) -> Bool {
        guard arguments[i] == "--format" else { return false }
        let v = i + 1 < arguments.count ? arguments[i + 1] : ""
        switch v {
        case "json": enabled = true
        case "text", "markdown": enabled = false
        default:
            fputs("memprobe-bench: --format must be text or json, not '\(v)'\n", stderr)
            exit(64)
        }
        i += 1
        return true
    }

    /// Starts collecting (when enabled): stdout goes to stderr until ``finish()``.
    static func begin(benchmark name: String) {
        benchmark = name
        guard enabled else { return }
        fflush(stdout)
        realStdout = dup(1)
        precondition(realStdout >= 0 && dup2(2, 1) >= 0, "memprobe-bench: cannot redirect stdout")
    }

    /// A figure of the run's environment (build, kernel, load).
    static func environment(_ key: String, _ value: Value) {
        if enabled { environment.append((key, value)) }
    }

    /// One row of table `table` (rows keep their order; keys name the columns).
    static func row(_ table: String, _ fields: [(String, Value)]) {
        guard enabled else { return }
        if tables[table] == nil { tableOrder.append(table) }
        tables[table, default: []].append(fields)
    }

    /// A single named figure.
    static func value(_ key: String, _ value: Value) {
        if enabled { values.append((key, value)) }
    }

    /// Writes the object to the real stdout (when enabled). Exits 1 if the write fails.
    static func finish() {
        guard enabled else { return }
        fflush(stdout)
        func object(_ fields: [(String, Value)]) -> String {
            "{" + fields.map { "\(JSONText.quoted($0.0)): \($0.1.json)" }.joined(separator: ", ") + "}"
        }
        var out = "{\n  \"benchmark\": \(JSONText.quoted(benchmark)),\n  \"environment\": \(object(environment)),\n  \"tables\": {"
        out += tableOrder.enumerated().map { i, name in
            "\n    \(JSONText.quoted(name)): [\n" + tables[name]!.map { "      " + object($0) }.joined(separator: ",\n") + "\n    ]"
        }.joined(separator: ",")
        out += tableOrder.isEmpty ? "},\n" : "\n  },\n"
        out += "  \"values\": \(object(values))\n}\n"
        var bytes = Array(out.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(realStdout, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                fputs("memprobe-bench: writing the JSON report failed (errno \(errno))\n", stderr)
                exit(1)
            }
            written += n
        }
        bytes.removeAll()
    }
}
