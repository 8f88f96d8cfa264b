import ArgumentParser
import MemProbe
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `memprobe watch`: a live view of one or more processes, sampled every `--interval`.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Shows the memory of one or more processes live: RSS, LazyFree, cgroup, and published arena figures.",
        discussion: """
        Every --interval: RSS, RSS − LazyFree, LazyFree, the cgroup's working set and limit, and — for processes \
        that publish (link memprobe with a governor) — arena Alloc/HeapInuse/HeapReleased and the governor's limit.
        A table that redraws in place on a terminal (appended rows otherwise), or one JSON line per process and \
        sample with --format json. Ends after --duration, on Ctrl-C/SIGTERM, or when every process has exited \
        (exit 0, and says so on stderr). --record FILE saves the series (JSON lines); --plot FILE.svg draws it, one \
        panel per process on one scale, with phase markers from --marks FILE (lines `UNIX_SECONDS LABEL`, appended \
        by the caller while the watch runs). --replay FILE (repeatable) plots saved records without sampling.

        Exit codes: 0 ok (also when a process exits); 1 a file could not be written; 2 a process does not exist or \
        may not be read at start; 64 bad arguments; 65 a --marks or --replay file is malformed.

        Examples:
          memprobe watch 1234
          memprobe watch 1234 --format json --duration 10
          memprobe watch 1234 --label arena --record arena.jsonl --marks marks.txt --plot arena.svg
          memprobe watch --replay arena.jsonl --replay dictionary.jsonl --plot both.svg
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Argument(help: "Process IDs to watch.")
    var pids: [Int32] = []

    @Option(name: .customLong("label"), help: "A name for each pid, in order (default: its command name).")
    var labels: [String] = []

    @Option(help: "Time between samples, e.g. 1s, 250ms (10ms to 1h).")
    var interval: String = "1s"

    @Option(help: "Stop after this long, e.g. 30s, 5m (default: until Ctrl-C or every process has exited).")
    var duration: String?

    @Option(help: "Output format: table or json (one line per process and sample).")
    var format: Format = .table

    @Option(help: "Save the time series to FILE (JSON lines; written at the end, temp name then rename).")
    var record: String?

    @Option(help: "Draw the time series as an SVG chart to FILE.")
    var plot: String?

    @Option(help: "Phase markers: a file of `UNIX_SECONDS LABEL` lines (read at the end).")
    var marks: String?

    @Option(help: "Plot a saved --record FILE instead of sampling (repeatable; needs --plot).")
    var replay: [String] = []

    @Option(help: "Title of the --plot chart.")
    var title: String?

    func validate() throws {
        if !replay.isEmpty {
            guard plot != nil else { throw ValidationError("--replay needs --plot FILE.svg.") }
            guard pids.isEmpty else { throw ValidationError("--replay plots saved records; give no process IDs with it.") }
            return
        }
        if pids.isEmpty { throw ValidationError("Give one or more process IDs.") }
        if let bad = pids.first(where: { $0 <= 0 }) { throw ValidationError("'\(bad)' is not a process ID (must be > 0).") }
        if labels.count > pids.count { throw ValidationError("\(labels.count) --label for \(pids.count) process IDs.") }
        guard let i = Self.seconds(interval), i >= 0.01, i <= 3600 else {
            throw ValidationError("--interval must be a time from 10ms to 1h (e.g. 1s, 250ms), got '\(interval)'.")
        }
        if let duration {
            guard let d = Self.seconds(duration), d > 0, d <= 7 * 86400 else {
                throw ValidationError("--duration must be a time up to 7d (e.g. 30s, 5m), got '\(duration)'.")
            }
        }
    }

    /// `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"1d"` or plain seconds; nil when malformed.
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let v = Double(text.dropLast(suffix.count)), v.isFinite, v >= 0 else { return nil }
            return v * scale
        }
        guard let v = Double(text), v.isFinite, v >= 0 else { return nil }
        return v
    }

    func run() throws {
        if !replay.isEmpty { return try plotReplay() }
        let intervalSeconds = Self.seconds(interval)!
        let durationSeconds = duration.flatMap(Self.seconds)

        // SIGINT/SIGTERM are taken synchronously while sleeping (sigtimedwait), so the record and plot are written.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        let startMono = monotonicNanoseconds()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let startUnix = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        var rec = WatchRecord(startUnix: startUnix, interval: intervalSeconds)
        var alive = Array(pids.enumerated().map { (pid: $0.element, label: $0.offset < labels.count ? labels[$0.offset] : nil) })

        // The first reading: a process that does not exist or may not be read is an error (exit 2).
        var first: [WatchSample] = []
        var failed = false
        for p in alive {
            do { first.append(try WatchSample.read(pid: p.pid, label: p.label, t: 0)) } catch {
                printError("memprobe: \(error.description)")
                failed = true
            }
        }
        if failed { throw ExitStatus.targetUnavailable }

        let table = WatchTable(terminal: stdoutIsTerminal && format == .table)
        var samples = first
        var tick = 0
        var stoppedBy = "duration"
        while true {
            rec.samples += samples
            switch format {
            case .json:
                for s in samples { print(s.jsonLine) }
            case .table:
                table.show(samples)
            }
            fflush(stdout)
            if alive.isEmpty {
                stoppedBy = "exited"
                break
            }
            tick += 1
            let next = Double(tick) * intervalSeconds
            if let durationSeconds, next > durationSeconds + 1e-6 { break }
            // Sleep until the next tick unless a stop signal comes first.
            let wait = max(0, next - Double(monotonicNanoseconds() - startMono) / 1e9)
            var ts = timespec(tv_sec: Int(wait), tv_nsec: Int((wait - wait.rounded(.down)) * 1e9))
            var got: Int32 = -1
            repeat { got = sigtimedwait(&stopSignals, nil, &ts) } while got < 0 && errno == EINTR
            if got > 0 {
                stoppedBy = "signal"
                break
            }
            let t = Double(monotonicNanoseconds() - startMono) / 1e9
            samples = []
            var stillAlive: [(pid: Int32, label: String?)] = []
            for p in alive {
                do {
                    samples.append(try WatchSample.read(pid: p.pid, label: p.label, t: t))
                    stillAlive.append(p)
                } catch .notPermitted(let pid, let reason) {
                    printError("memprobe watch: process \(pid): no longer readable (\(reason)); stopped watching it")
                } catch {
                    printError("memprobe watch: process \(p.pid)\(p.label.map { " (\($0))" } ?? "") exited")
                }
            }
            alive = stillAlive
        }
        if stoppedBy == "exited" { printError("memprobe watch: every watched process has exited; stopping") }
        try finish(rec)
    }

    /// Writes `--record` and `--plot` (marks read now, so the caller may append them until the end).
    private func finish(_ recorded: WatchRecord) throws {
        var rec = recorded
        do throws(WatchError) {
            if let marks { rec.marks = try WatchMark.read(path: marks, startUnix: rec.startUnix) }
            if let record { try WatchFile.write(record, rec.text) }
            if let plot { try WatchFile.write(plot, WatchPlot.svg(records: [rec], title: title)) }
        } catch {
            try fail(error)
        }
    }

    private func plotReplay() throws {
        do throws(WatchError) {
            var records: [WatchRecord] = []
            for path in replay { records.append(try WatchRecord.parse(try WatchFile.read(path), path: path)) }
            guard records.contains(where: { !$0.samples.isEmpty }) else { throw WatchError.data("no samples in \(replay.joined(separator: ", "))") }
            try WatchFile.write(plot!, WatchPlot.svg(records: records, title: title))
        } catch {
            try fail(error)
        }
    }

    private func fail(_ error: WatchError) throws -> Never {
        printError("memprobe watch: \(error.description)")
        switch error {
        case .io: throw ExitStatus.failure
        case .data: throw ExitCode(65)
        case .usage: throw ExitStatus.usage
        }
    }
}

/// The table view: redrawn in place on a terminal, appended rows otherwise (header once).
final class WatchTable {
    let terminal: Bool
    private var headerShown = false

    init(terminal: Bool) { self.terminal = terminal }

    static let columns = ["TIME", "PID", "LABEL", "RSS", "RSS-LAZY", "LAZYFREE", "CG-WSET", "CG-LIMIT", "ALLOC", "INUSE", "RELEASED", "GOV-LIMIT"]

    func show(_ samples: [WatchSample]) {
        let rows = samples.map { s -> [String] in
            ["\(String(format1(s.t)))s", "\(s.pid)", String(s.label.prefix(16)), h(s.rss), h(s.effectiveRss), h(s.lazyFree),
             h(s.cgroupWorkingSet), h(s.cgroupLimit), h(s.arenaAlloc), h(s.arenaHeapInuse), h(s.arenaHeapReleased), h(s.governorLimit)]
        }
        let widths = Self.columns.indices.map { i in max(Self.columns[i].count, rows.map { $0[i].count }.max() ?? 0) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == 2 ? c + String(repeating: " ", count: widths[i] - c.count) : String(repeating: " ", count: widths[i] - c.count) + c }
                .joined(separator: "  ")
        }
        var out = ""
        if terminal {
            out += "\u{1B}[H\u{1B}[J" + "memprobe watch (Ctrl-C to stop)\n\n" + line(Self.columns) + "\n"
        } else if !headerShown {
            out += line(Self.columns) + "\n"
            headerShown = true
        }
        for r in rows { out += line(r) + "\n" }
        print(out, terminator: "")
    }

    private func h(_ v: Int?) -> String { v.map { ByteFormat.human($0) } ?? "—" }

    private func format1(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
