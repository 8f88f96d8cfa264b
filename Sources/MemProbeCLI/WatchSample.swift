import FoundationEssentials
import MemProbe
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One reading of one watched process: the kernel's figures and, when the process publishes, its arenas' and
/// governor's. A figure that could not be read is nil (left out of the JSON line).
struct WatchSample: Codable, Sendable, Hashable {
    /// Seconds since the watch started.
    var t: Double
    var pid: Int32
    /// The caller's name for the process (`--label`), else its command name.
    var label: String
    var rss: Int?
    /// RSS − LazyFree: what the kernel cannot take back without the process's help.
    var effectiveRss: Int?
    var lazyFree: Int?
    var cgroupWorkingSet: Int?
    var cgroupLimit: Int?
    /// Sums over the published arenas.
    var arenaAlloc: Int?
    var arenaHeapInuse: Int?
    var arenaHeapReleased: Int?
    var governorLimit: Int?
    /// Why the published part is missing (e.g. not permitted), when it is not simply unpublished.
    var publishedError: String?

    /// Reads `pid` once (smaps_rollup for LazyFree, its cgroup, its published file).
    static func read(pid: Int32, label: String?, t: Double) throws(ProcessMemoryError) -> WatchSample {
        let m = try MemStats.capture(pid: pid, mode: .full)
        let arenas = m.arenas
        func sum(_ f: (ArenaStats) -> Int) -> Int? { arenas.isEmpty ? nil : arenas.reduce(0) { $0 + f($1.stats) } }
        return WatchSample(
            t: t, pid: pid, label: label ?? m.name ?? "pid \(pid)", rss: m.rss, effectiveRss: m.effectiveRss,
            lazyFree: m.lazyFree, cgroupWorkingSet: m.cgroup?.workingSet, cgroupLimit: m.cgroup?.effectiveLimit,
            arenaAlloc: sum(\.alloc), arenaHeapInuse: sum(\.heapInuse), arenaHeapReleased: sum(\.heapReleased),
            governorLimit: m.governor?.limitBytes,
            publishedError: m.missing.first { $0.figure == "published" }?.reason)
    }

    /// The sample as one JSON line (keys sorted, nil figures left out).
    var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// A phase marker on the time axis (from `--marks FILE`): `t` seconds since the watch started.
struct WatchMark: Codable, Sendable, Hashable {
    var mark: String
    var t: Double

    /// Reads a marks file: one `UNIX_SECONDS LABEL` per line (e.g. `echo "$(date +%s.%N) evict" >> marks`).
    /// Blank lines and lines starting with `#` are skipped; any other malformed line is an error naming it.
    static func read(path: String, startUnix: Double) throws(WatchError) -> [WatchMark] {
        let text = try WatchFile.read(path)
        var marks: [WatchMark] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let parts = trimmed.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let when = Double(parts[0]), when.isFinite else {
                throw .data("\(path):\(n + 1): expected 'UNIX_SECONDS LABEL', got '\(trimmed.prefix(60))'")
            }
            marks.append(WatchMark(mark: String(parts[1].prefix(40)), t: when - startUnix))
        }
        return marks
    }
}

/// The recorded time series of a watch (`--record FILE`): a header line, then sample and mark lines, JSON each.
struct WatchRecord: Sendable {
    var startUnix: Double
    var interval: Double
    var samples: [WatchSample] = []
    var marks: [WatchMark] = []

    struct Header: Codable {
        var memprobeWatch: Int
        var startUnix: Double
        var interval: Double
    }

    /// The record's first line: what it is, when it started, the interval.
    var headerLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = Header(memprobeWatch: 1, startUnix: startUnix, interval: interval)
        return (try? encoder.encode(header)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The marks, one JSON line each (they follow the samples in a record).
    var markLines: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return marks.map { ((try? encoder.encode($0)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n" }.joined()
    }

    /// The whole record as `--record` writes it: the header, one line per sample, one per mark.
    var text: String { headerLine + "\n" + samples.map { $0.jsonLine + "\n" }.joined() + markLines }

    /// Parses a file written by `--record`; a malformed line is an error naming the file and line.
    static func parse(_ text: String, path: String) throws(WatchError) -> WatchRecord {
        let decoder = JSONDecoder()
        var lines = text.split(separator: "\n").enumerated().makeIterator()
        guard let (_, first) = lines.next(),
              let header = try? decoder.decode(Header.self, from: Data(first.utf8)), header.memprobeWatch == 1
        else { throw .data("\(path): not a memprobe watch record (no header line)") }
        var record = WatchRecord(startUnix: header.startUnix, interval: header.interval)
        while let (n, line) = lines.next() {
            let data = Data(line.utf8)
            if line.contains("\"mark\""), let m = try? decoder.decode(WatchMark.self, from: data) {
                record.marks.append(m)
            } else if let s = try? decoder.decode(WatchSample.self, from: data), s.t.isFinite {
                record.samples.append(s)
            } else {
                throw .data("\(path):\(n + 1): not a watch sample or mark")
            }
        }
        return record
    }
}

/// A watch failure with its exit status: 1 a file could not be read or written, 65 a file's content is wrong.
enum WatchError: Error, CustomStringConvertible {
    case io(String)
    case data(String)

    var description: String {
        switch self {
        case .io(let s), .data(let s): s
        }
    }
}

/// Whole-file reads (`--marks`, `--replay`); files are written through `CheckedOutputFile`.
enum WatchFile {
    static func read(_ path: String) throws(WatchError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 256 << 20 { throw .data("\(path): larger than 256 MiB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
