import ArgumentParser
import MemProbe
import MemProbeCompare
import MemProbeSystem
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `memprobe compare`: the "maps never give memory back" experiment, for every contender side by side.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Inserts, deletes and drops a big map for Dictionary and every ArenaMap release strategy, and shows who holds what.",
        discussion: """
        Each contender runs in its own child process (so one contender's pages never blur another's RSS), one \
        after another. Every phase records the allocator's books (Alloc, HeapInuse, Sys, HeapReleased), the \
        kernel's (RSS, Anonymous, LazyFree, RSS − LazyFree) and, with --memory-limit, the child's cgroup.

        The default run (seed scenario, every contender, 1,000,000 × 1 KiB) took 29–35 s in a release build on a \
        2-core VM (a debug build is several times slower); its hungriest child (Dictionary, while rehashing) peaked \
        at 2.8 GiB RSS, and children run one at a time, so it needs about 3 GiB free. A run whose estimated peak \
        does not fit in MemAvailable is refused. The keep, refill and churn scenarios together took 27 s at \
        --items 200000; they grow linearly with --items.

        Contenders: \(CompareContender.allCases.map(\.rawValue).joined(separator: ", ")).
        Scenarios: seed (insert, remove all, drop, force release), keep (remove all but --keep, release, copy \
        survivors), refill (empty and refill \(CompareScenario.refillRounds)×), churn (steady size, \
        \(CompareScenario.churnOperationsPerItem)×N random remove+insert).

        Inside a memory cgroup with a limit (a container, a systemd slice), the room under the tightest \
        enclosing limit is checked too. --output and --plot are created (under a temporary name, renamed into \
        place when complete) before the first child runs, so a bad path fails at once.

        Exit codes: 0 ok (also when a contender was OOM-killed or crashed: that is a result), 1 failure \
        (including a run that does not fit in memory, and output that could not be written), 2 --memory-limit \
        without root or a memory cgroup, 64 bad arguments, 128+N killed by signal N (129 SIGHUP, 130 SIGINT, \
        143 SIGTERM): the running child is killed and its cgroup removed.

        Examples:
          memprobe compare
          memprobe compare --items 200000 --format markdown \\
            --contenders dictionary,arena:dontNeed,arena:lazyFree
          memprobe compare --scenario keep,churn --format json \\
            --output compare.json --plot compare.svg
          memprobe compare --items 100000 --memory-limit 160M --pressure 96M
        """
    )

    @Option(help: "Scenarios, comma-separated, or all: seed, keep, refill, churn.")
    var scenario = "seed"

    @Option(help: "Contenders, comma-separated, or all.")
    var contenders = "all"

    @Option(parsing: .unconditional, help: "Values to insert.")
    var items = "1000000"

    @Option(parsing: .unconditional, help: "Bytes per value, 1 B … 64 KiB (inline values are rounded up to a power of two, at least 8 B), e.g. 1024 or 4k.")
    var valueSize = "1024"

    @Option(parsing: .unconditional, help: "Entries the keep scenario keeps (fewer than --items).")
    var keep = "100"

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Runs per contender; figures are medians when > 1.")
    var repeatCount = "1"

    @Option(parsing: .unconditional, help: "Run each child in its own memory cgroup with this limit (needs root), e.g. 512M.")
    var memoryLimit: String?

    @Option(parsing: .unconditional, help: "Fresh memory the pressure phase writes under --memory-limit (default: half the limit).")
    var pressure: String?

    @Option(help: "Output format: table, json, csv or markdown.")
    var format = "table"

    @Option(help: "Write the report to this file instead of standard output.")
    var output: String?

    @Option(help: "Write an SVG chart of RSS and LazyFree per phase per contender to this file.")
    var plot: String?

    struct Settings {
        var scenarios: [CompareScenario]
        var contenders: [CompareContender]
        var items: Int
        var valueSize: Int
        var keep: Int
        var repeatCount: Int
        var memoryLimit: Int?
        var pressure: Int?
        var format: CompareReport.Format
    }

    func settings() throws -> Settings {
        func count(_ option: String, _ text: String) throws -> Int {
            guard let n = Int(text.filter { $0 != "_" && $0 != "," }), n >= 1 else {
                throw ValidationError(CompareError.invalidCount(option: option, value: text).description)
            }
            return n
        }
        func size(_ option: String, _ text: String) throws -> Int {
            guard let n = ByteFormat.parse(text), n >= 1 else {
                throw ValidationError(CompareError.invalidSize(option: option, value: text).description)
            }
            return n
        }
        let scenarios: [CompareScenario]
        let contenders: [CompareContender]
        do {
            scenarios = try CompareScenario.parseList(scenario)
            contenders = try CompareContender.parseList(self.contenders)
        } catch {
            throw ValidationError(error.description)
        }
        guard let format = CompareReport.Format(rawValue: format) else {
            throw ValidationError("unknown format '\(format)'; valid: \(CompareReport.Format.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let n = try count("--items", items)
        let value = try size("--value-size", valueSize)
        guard CompareValueSize.stored(forRequested: value) != nil else {
            throw ValidationError("--value-size '\(valueSize)' is too large; valid: 1 B … 64 KiB (inline values are stored in \(CompareValueSize.supported.map(String.init).joined(separator: ", ")) B)")
        }
        let keep = try count("--keep", self.keep)
        // keep ≥ items removes nothing in the keep scenario, and its verdicts would judge a removal that never happened.
        if scenarios.contains(.keep), keep >= n {
            throw ValidationError("--keep \(keep) must be less than --items \(n): the keep scenario removes all but --keep values")
        }
        let reps = try count("--repeat", repeatCount)
        let limit = try memoryLimit.map { try size("--memory-limit", $0) }
        if let limit, limit < 16 << 20 {
            throw ValidationError("--memory-limit '\(memoryLimit!)' is below 16 MiB: the worker process alone needs more")
        }
        var press = try pressure.map { try size("--pressure", $0) }
        if press != nil && limit == nil { throw ValidationError("--pressure needs --memory-limit") }
        if let limit, press == nil { press = limit / 2 }
        if let output, let plot, CheckedOutputFile.sameTarget(output, plot) {
            throw ValidationError("--output and --plot name the same file '\(plot)': the chart would replace the report")
        }
        return Settings(
            scenarios: scenarios, contenders: contenders, items: n, valueSize: value, keep: keep, repeatCount: reps,
            memoryLimit: limit, pressure: press, format: format)
    }

    func validate() throws { _ = try settings() }

    func run() throws {
        let s = try settings()
        guard let need = CompareEstimate.peakBytes(items: s.items, valueSize: s.valueSize, pressure: s.pressure) else {
            printError("""
            memprobe compare: this run needs more than \(ByteFormat.human(Int.max)) in one child (--items \(s.items) × \
            --value-size \(s.valueSize)); no machine has that. Use fewer --items or a smaller --value-size.
            """)
            throw ExitStatus.failure
        }
        let needHere = s.memoryLimit.map { min($0 + (64 << 20), need) } ?? need
        if let available = CompareEstimate.memAvailable(), needHere > available {
            printError("""
            memprobe compare: this run needs about \(ByteFormat.human(needHere)) in one child, but only \
            \(ByteFormat.human(available)) is available (MemAvailable). Use fewer --items or a smaller --value-size.
            """)
            throw ExitStatus.failure
        }
        if let enclosing = EnclosingCgroupHeadroom.current(), needHere > enclosing.headroom {
            printError("""
            memprobe compare: this run needs about \(ByteFormat.human(needHere)) in one child, but the memory cgroup \
            \(enclosing.directory) has a limit of \(ByteFormat.human(enclosing.limit)) with only \
            \(ByteFormat.human(enclosing.headroom)) left. Use fewer --items or a smaller --value-size.
            """)
            throw ExitStatus.failure
        }
        // Output files are created now (temporary names), so a bad path fails before minutes of measuring.
        let outputFile: CheckedOutputFile?
        let plotFile: CheckedOutputFile?
        do {
            outputFile = try output.map { path throws(CheckedOutputError) in try CheckedOutputFile(path: path) }
            plotFile = try plot.map { path throws(CheckedOutputError) in try CheckedOutputFile(path: path) }
        } catch {
            printError("memprobe compare: \(error)")
            throw ExitStatus.failure
        }
        var parentCgroup: MemoryCgroup?
        if s.memoryLimit != nil {
            switch MemoryCgroup.managementSupport() {
            case .available(let p): parentCgroup = p
            case .unavailable(let reason):
                printError("memprobe compare: --memory-limit needs root and a writable memory cgroup (v1 or v2): \(reason)")
                throw ExitStatus.targetUnavailable
            }
        }
        // Cgroups left by runs that were SIGKILLed (no handler could remove them) go now.
        if let parent = parentCgroup ?? (geteuid() == 0 ? try? MemoryCgroup.current() : nil) {
            for failure in CompareStaleCgroups.remove(under: parent).failed {
                printError("memprobe compare: could not remove the stale cgroup \(failure)")
            }
        }

        installCompareSignalHandlers()
        let showProgress = stderrIsTerminal
        let started = monotonicNanoseconds()
        let stored = CompareValueSize.stored(forRequested: s.valueSize) ?? s.valueSize
        var records: [CompareRecord] = []
        var serial = 0
        let total = s.scenarios.count * s.contenders.count * s.repeatCount
        for scenario in s.scenarios {
            let phases = scenario.phases(withPressure: s.memoryLimit != nil)
            for contender in s.contenders {
                var runs: [[CompareRecord]] = []
                for rep in 0..<s.repeatCount {
                    serial += 1
                    var cgroup: MemoryCgroup?
                    if let parentCgroup, let limit = s.memoryLimit {
                        do {
                            cgroup = try parentCgroup.createChild(named: "memprobe-compare-\(getpid())-\(serial)", limitBytes: limit)
                        } catch {
                            printError("memprobe compare: cannot create a memory cgroup under \(parentCgroup.directory): \(error)")
                            throw ExitStatus.targetUnavailable
                        }
                    }
                    defer {
                        if let cgroup {
                            do { try cgroup.remove(timeout: .seconds(5)) } catch {
                                printError("memprobe compare: could not remove \(cgroup.directory): \(error)")
                            }
                        }
                    }
                    var args = [
                        "memprobe", "compare-worker", "--contender", contender.rawValue, "--scenario", scenario.rawValue,
                        "--items", String(s.items), "--value-size", String(s.valueSize), "--keep", String(s.keep),
                        "--parent", String(getpid()),
                    ]
                    if let p = s.pressure { args += ["--pressure", String(p)] }
                    if let cgroup { args += ["--cgroup", cgroup.directory] }
                    let label = "[\(serial)/\(total)] \(scenario.rawValue) \(contender.rawValue)" + (s.repeatCount > 1 ? " run \(rep + 1)" : "")
                    let result: CompareChildResult
                    do {
                        result = try runCompareChild(arguments: args, cgroup: cgroup) { phase in
                            if showProgress { printProgress("\(label): \(phase)…") }
                        }
                    } catch let interrupted as CompareInterrupted {
                        if showProgress { printProgress("") }
                        if let cgroup { try? cgroup.remove(timeout: .seconds(5)) }
                        outputFile?.abandon()
                        plotFile?.abandon()
                        printError("memprobe compare: interrupted by \(signalName(interrupted.signal)); the running child was killed" + (cgroup != nil ? " and its cgroup removed" : ""))
                        throw ExitCode(128 + interrupted.signal)
                    }
                    if result.outcome != .ok {
                        if showProgress { printProgress("") }
                        printError("memprobe compare: \(contender.rawValue) (\(scenario.rawValue)): \(result.detail)")
                    }
                    runs.append(CompareRecord.completing(
                        result.records, phases: phases, outcome: result.outcome, contender: contender, scenario: scenario,
                        valueSize: contender.isBoxed ? s.valueSize : stored, requestedValueSize: s.valueSize))
                }
                records += combine(runs, phases: phases)
            }
        }
        if showProgress { printProgress("") }
        let report = CompareReport(
            items: s.items, requestedValueSize: s.valueSize, valueSize: stored, keep: s.keep, repeatCount: s.repeatCount,
            memoryLimit: s.memoryLimit, pressure: s.pressure, scenarios: s.scenarios, contenders: s.contenders,
            records: records, totalNanoseconds: monotonicNanoseconds() - started)
        let text = try report.render(s.format)
        do {
            if let outputFile { try outputFile.commit(text) } else { try writeStandardOutput(text, command: "memprobe compare") }
            try plotFile?.commit(ComparePlot.svg(report))
        } catch let error as CheckedOutputError {
            printError("memprobe compare: \(error)")
            throw ExitStatus.failure
        }
    }

    /// Per phase, the median over runs when every run measured it, else the first run's failed record.
    func combine(_ runs: [[CompareRecord]], phases: [String]) -> [CompareRecord] {
        phases.compactMap { phase in
            let all = runs.compactMap { run in run.first { $0.phase == phase } }
            if let failed = all.first(where: { $0.outcome != .ok }) { return failed }
            return all.isEmpty ? nil : CompareRecord.median(of: all)
        }
    }

}

/// Rewrites the current terminal line on standard error (empty text clears it).
func printProgress(_ text: String) {
    let line = "\r\u{1B}[2K" + text
    _ = line.withCString { fputs($0, stderr) }
    fflush(stderr)
}

