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
        sample with --format json. Ends after --duration, on Ctrl-C/SIGTERM/SIGHUP (says which on stderr; a signal \
        ignored at start, as under nohup, stays ignored), or when every process has exited (says so on stderr); in \
        each case --record and --plot are written and the exit status is 0. --record FILE saves the series (JSON lines); --plot FILE.svg draws it, one panel per process on \
        one scale, with phase markers from --marks FILE (lines `UNIX_SECONDS LABEL`, appended by the caller while the \
        watch runs). --replay FILE (repeatable) plots saved records without sampling.
        --record and --plot are created under a temporary name in their directory before the first sample (a bad \
        path fails at once), written with checked writes, and renamed into place only when complete; on any failure \
        nothing is left under either name.

        Exit codes: 0 ok (also when a process exits, and when stopped by SIGINT, SIGTERM or SIGHUP); 1 standard \
        output, --record or --plot could not be written, or --marks/--replay could not be read; 2 a process does \
        not exist, is a thread, or may not be read at start; 64 bad arguments; 65 a --marks or --replay file is \
        malformed.

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

    // Strings, not Int32: parsed by ProcessIDArguments, so "-1" is named as the bad process ID it is.
    @Argument(parsing: .allUnrecognized, help: "Process IDs to watch.")
    var pids: [String] = []

    @Option(name: .customLong("label"), help: "A name for each pid, in order (default: its command name).")
    var labels: [String] = []

    @Option(parsing: .unconditional, help: "Time between samples, e.g. 1s, 250ms (10ms to 1h; default 1s).")
    var interval: String?

    @Option(parsing: .unconditional, help: "Stop after this long, e.g. 30s, 5m, up to 7d (default: until Ctrl-C or every process has exited).")
    var duration: String?

    @Option(help: "Output format: table or json (one line per process and sample).")
    var format: Format = .table

    @Option(help: "Save the time series to FILE (JSON lines; temp name in FILE's directory, renamed into place at the end).")
    var record: String?

    @Option(help: "Draw the time series as an SVG chart to FILE (temp name, renamed into place at the end).")
    var plot: String?

    @Option(help: "Phase markers: a file of `UNIX_SECONDS LABEL` lines (read at the end; needs --record or --plot).")
    var marks: String?

    @Option(help: "Plot a saved --record FILE instead of sampling (repeatable; needs --plot).")
    var replay: [String] = []

    @Option(help: "Title of the --plot chart.")
    var title: String?

    /// A watched process: its pid and the caller's label for it.
    struct Watched {
        var pid: Int32
        var label: String?
    }

    /// The checked command line of a live watch (not a replay).
    struct Settings {
        var watched: [Watched]
        var interval: Double
        var duration: Double?
    }

    /// Checks every argument; a replay returns nil. Throws a `ValidationError` (exit 64) naming the bad value.
    func settings() throws -> Settings? {
        if let plot, let record, CheckedOutputFile.sameTarget(record, plot) {
            throw ValidationError("--record and --plot name the same file '\(plot)': the chart would replace the record.")
        }
        for (option, path) in [("--record", record), ("--plot", plot)] {
            if let path, let marks, CheckedOutputFile.sameTarget(marks, path) {
                throw ValidationError("--marks and \(option) name the same file '\(path)': it would replace the marks.")
            }
        }
        if title != nil && plot == nil { throw ValidationError("--title needs --plot FILE.svg.") }
        if !replay.isEmpty {
            guard let plot else { throw ValidationError("--replay needs --plot FILE.svg.") }
            guard pids.isEmpty else { throw ValidationError("--replay plots saved records; give no process IDs with it.") }
            let given: [(option: String, given: Bool)] = [
                ("--record", record != nil), ("--marks", marks != nil), ("--interval", interval != nil),
                ("--duration", duration != nil), ("--label", !labels.isEmpty),
            ]
            if let option = given.first(where: \.given)?.option {
                throw ValidationError("\(option) does not apply to --replay (it plots saved records; their marks are in them).")
            }
            if let same = replay.first(where: { CheckedOutputFile.sameTarget($0, plot) }) {
                throw ValidationError("--replay and --plot name the same file '\(same)': the chart would replace the record.")
            }
            return nil
        }
        if marks != nil && record == nil && plot == nil { throw ValidationError("--marks needs --record or --plot.") }
        let all = try ProcessIDArguments.parseEach(pids)
        if all.isEmpty { throw ValidationError("Give one or more process IDs.") }
        if labels.count > all.count { throw ValidationError("\(labels.count) --label for \(all.count) process IDs.") }
        // Each process once (twice would double its rows and its plot panel); its label is the one given first.
        var watched: [Watched] = []
        for (i, pid) in all.enumerated() {
            let label = i < labels.count ? labels[i] : nil
            if let j = watched.firstIndex(where: { $0.pid == pid }) {
                if let label, let first = watched[j].label, first != label {
                    throw ValidationError("Process \(pid) is given twice, with the labels '\(first)' and '\(label)'.")
                }
                if watched[j].label == nil { watched[j].label = label }
                continue
            }
            watched.append(Watched(pid: pid, label: label))
        }
        let intervalText = interval ?? "1s"
        guard let i = TimeArgument.seconds(intervalText), i >= 0.01, i <= 3600 else {
            throw ValidationError("--interval must be a time from 10ms to 1h (e.g. 1s, 250ms), got '\(intervalText)'.")
        }
        var durationSeconds: Double?
        if let duration {
            guard let d = TimeArgument.seconds(duration), d >= 0.001, d <= 7 * 86400 else {
                throw ValidationError("--duration must be a time from 1ms to 7d (e.g. 30s, 5m), got '\(duration)'.")
            }
            durationSeconds = d
        }
        return Settings(watched: watched, interval: i, duration: durationSeconds)
    }

    func validate() throws { _ = try settings() }

    func run() throws {
        guard let settings = try settings() else { return try plotReplay() }
        // A closed standard output must be a write error we report (exit 1), not a silent SIGPIPE death.
        signal(SIGPIPE, SIG_IGN)
        // SIGINT/SIGTERM/SIGHUP are blocked for the whole run and taken synchronously while sleeping (sigtimedwait),
        // so a stop signal ends the sampling and the record and plot are still written, never left half-done. A
        // signal ignored when the watch starts (nohup's SIGHUP, a background job's SIGINT) stays ignored.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        for s in [SIGINT, SIGTERM, SIGHUP] {
            var current = sigaction()
            if sigaction(s, nil, &current) == 0, unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1 /* SIG_IGN */ {
                continue
            }
            sigaddset(&stopSignals, s)
        }
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        // Output files are created now (temporary names), so a bad path fails before the first sample.
        let recordFile: CheckedOutputFile?
        let plotFile: CheckedOutputFile?
        do {
            recordFile = try record.map { path throws(CheckedOutputError) in try CheckedOutputFile(path: path) }
            plotFile = try plot.map { path throws(CheckedOutputError) in try CheckedOutputFile(path: path) }
        } catch {
            try fail(.io(error.description))
        }
        // Whatever ends the run early (an error, an unreadable process) leaves nothing under either name;
        // after a commit this does nothing.
        defer {
            recordFile?.abandon()
            plotFile?.abandon()
        }
        if let marks, let reason = Self.marksPathProblem(marks) { try fail(.io(reason)) }

        let startMono = monotonicNanoseconds()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let startUnix = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        // The samples are kept only for the plot; the record is streamed to its temporary file as they come.
        var rec = WatchRecord(startUnix: startUnix, interval: settings.interval)
        var alive = settings.watched

        // The first reading: a process that does not exist, is a thread or may not be read is an error (exit 2).
        var first: [WatchSample] = []
        var failed = false
        for p in alive {
            if let reason = ProcessIDArguments.notAProcess(p.pid) {
                printError("memprobe watch: \(reason)")
                failed = true
                continue
            }
            do { first.append(try WatchSample.read(pid: p.pid, label: p.label, t: 0)) } catch {
                printError("memprobe watch: \(error.description)")
                failed = true
            }
        }
        if failed { throw ExitStatus.targetUnavailable }
        try write(recordFile, rec.headerLine + "\n")

        let table = WatchTable(terminal: stdoutIsTerminal && format == .table)
        var samples = first
        var tick = 0
        var stopSignal: Int32?
        while true {
            if plotFile != nil { rec.samples += samples }
            switch format {
            case .json: try writeStandardOutput(samples.map { $0.jsonLine + "\n" }.joined(), command: "memprobe watch")
            case .table: try writeStandardOutput(table.render(samples), command: "memprobe watch")
            }
            try write(recordFile, samples.map { $0.jsonLine + "\n" }.joined())
            if alive.isEmpty { break }
            tick += 1
            let next = Double(tick) * settings.interval
            if let d = settings.duration, next > d + 1e-6 { break }
            // Sleep until the next tick unless a stop signal comes first.
            let wait = max(0, next - Double(monotonicNanoseconds() - startMono) / 1e9)
            var ts = timespec(tv_sec: Int(wait), tv_nsec: Int((wait - wait.rounded(.down)) * 1e9))
            var got: Int32 = -1
            repeat { got = sigtimedwait(&stopSignals, nil, &ts) } while got < 0 && errno == EINTR
            if got > 0 {
                stopSignal = got
                break
            }
            let t = Double(monotonicNanoseconds() - startMono) / 1e9
            samples = []
            var stillAlive: [Watched] = []
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
        if let stopSignal {
            printError("memprobe watch: stopped by \(signalName(stopSignal))")
        } else if alive.isEmpty {
            printError("memprobe watch: every watched process has exited; stopping")
        }
        try finish(rec, recordFile: recordFile, plotFile: plotFile)
    }

    /// Appends the marks to the record and writes the plot (marks read now, so the caller may append them until
    /// the end); the record is renamed into place first, then the plot.
    private func finish(_ recorded: WatchRecord, recordFile: CheckedOutputFile?, plotFile: CheckedOutputFile?) throws {
        var rec = recorded
        do throws(WatchError) {
            if let marks { rec.marks = try WatchMark.read(path: marks, startUnix: rec.startUnix) }
        } catch {
            try fail(error)
        }
        if let recordFile {
            try write(recordFile, rec.markLines)
            do { try recordFile.commit() } catch { try fail(.io(error.description)) }
        }
        if let plotFile {
            do { try plotFile.commit(WatchPlot.svg(records: [rec], title: title)) } catch { try fail(.io(error.description)) }
        }
    }

    /// Appends to `file` (nothing without one); a failure is exit 1 with one line, and the file is abandoned.
    private func write(_ file: CheckedOutputFile?, _ text: String) throws {
        guard let file, !text.isEmpty else { return }
        do { try file.write(text) } catch { try fail(.io(error.description)) }
    }

    /// Why the --marks file could not be read at the end, when that is already clear at the start: it is a
    /// directory or unreadable, or it does not exist and neither does its directory (it may be created later).
    static func marksPathProblem(_ path: String) -> String? {
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return "cannot read \(path): is a directory" }
            if access(path, R_OK) != 0 { return "cannot read \(path): \(String(cString: strerror(errno)))" }
            return nil
        }
        if errno != ENOENT { return "cannot read \(path): \(String(cString: strerror(errno)))" }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        var dst = stat()
        if stat(directory, &dst) != 0 || (dst.st_mode & S_IFMT) != S_IFDIR {
            return "cannot read \(path): directory \(directory) does not exist"
        }
        return nil
    }

    private func plotReplay() throws {
        let plotFile: CheckedOutputFile
        do { plotFile = try CheckedOutputFile(path: plot!) } catch { try fail(.io(error.description)) }
        defer { plotFile.abandon() }
        do throws(WatchError) {
            var records: [WatchRecord] = []
            for path in replay { records.append(try WatchRecord.parse(try WatchFile.read(path), path: path)) }
            guard records.contains(where: { !$0.samples.isEmpty }) else { throw WatchError.data("no samples in \(replay.joined(separator: ", "))") }
            do { try plotFile.commit(WatchPlot.svg(records: records, title: title)) } catch { throw .io(error.description) }
        } catch {
            try fail(error)
        }
    }

    private func fail(_ error: WatchError) throws -> Never {
        printError("memprobe watch: \(error.description)")
        switch error {
        case .io: throw ExitStatus.failure
        case .data: throw ExitCode(65)
        }
    }
}

/// The table view: redrawn in place on a terminal, appended rows otherwise (header once).
final class WatchTable {
    let terminal: Bool
    private var headerShown = false

    init(terminal: Bool) { self.terminal = terminal }

    static let columns = ["TIME", "PID", "LABEL", "RSS", "RSS-LAZY", "LAZYFREE", "CG-WSET", "CG-LIMIT", "ALLOC", "INUSE", "RELEASED", "GOV-LIMIT"]

    /// The text that shows `samples`: the whole screen on a terminal, else their rows (after the header, once).
    func render(_ samples: [WatchSample]) -> String {
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
        return out
    }

    private func h(_ v: Int?) -> String { v.map { ByteFormat.human($0) } ?? "—" }

    private func format1(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
