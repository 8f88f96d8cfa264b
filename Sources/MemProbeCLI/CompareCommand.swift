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

        Exit codes: 0 ok (also when a contender was OOM-killed or crashed: that is a result), 1 failure, \
        2 --memory-limit without root or a memory cgroup, 64 bad arguments, 130 interrupted.

        Examples:
          memprobe compare
          memprobe compare --items 200000 --contenders dictionary,arena:dontNeed,arena:lazyFree --format markdown
          memprobe compare --scenario keep,churn --format json --output compare.json --plot compare.svg
          memprobe compare --items 100000 --memory-limit 160M --pressure 96M
        """
    )

    @Option(help: "Scenarios, comma-separated, or all: seed, keep, refill, churn.")
    var scenario = "seed"

    @Option(help: "Contenders, comma-separated, or all.")
    var contenders = "all"

    @Option(parsing: .unconditional, help: "Values to insert.")
    var items = "1000000"

    @Option(parsing: .unconditional, help: "Bytes per value (8 B … 64 KiB; rounded up to a power of two for inline values), e.g. 1024 or 4k.")
    var valueSize = "1024"

    @Option(parsing: .unconditional, help: "Entries the keep scenario keeps.")
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
            throw ValidationError("--value-size '\(valueSize)' is too large; valid: 1 B … 64 KiB (\(CompareValueSize.supported.map(String.init).joined(separator: ", ")))")
        }
        let keep = try count("--keep", self.keep)
        let reps = try count("--repeat", repeatCount)
        let limit = try memoryLimit.map { try size("--memory-limit", $0) }
        if let limit, limit < 16 << 20 {
            throw ValidationError("--memory-limit '\(memoryLimit!)' is below 16 MiB: the worker process alone needs more")
        }
        var press = try pressure.map { try size("--pressure", $0) }
        if press != nil && limit == nil { throw ValidationError("--pressure needs --memory-limit") }
        if let limit, press == nil { press = limit / 2 }
        return Settings(
            scenarios: scenarios, contenders: contenders, items: n, valueSize: value, keep: keep, repeatCount: reps,
            memoryLimit: limit, pressure: press, format: format)
    }

    func validate() throws { _ = try settings() }

    func run() throws {
        let s = try settings()
        let need = CompareEstimate.peakBytes(items: s.items, valueSize: s.valueSize, pressure: s.pressure)
        let needHere = s.memoryLimit.map { min($0 + (64 << 20), need) } ?? need
        if let available = CompareEstimate.memAvailable(), needHere > available {
            printError("""
            memprobe compare: this run needs about \(ByteFormat.human(needHere)) in one child, but only \
            \(ByteFormat.human(available)) is available (MemAvailable). Use fewer --items or a smaller --value-size.
            """)
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
                    ]
                    if let p = s.pressure { args += ["--pressure", String(p)] }
                    if let cgroup { args += ["--cgroup", cgroup.directory] }
                    let label = "[\(serial)/\(total)] \(scenario.rawValue) \(contender.rawValue)" + (s.repeatCount > 1 ? " run \(rep + 1)" : "")
                    let result: CompareChildResult
                    do {
                        result = try runCompareChild(arguments: args, cgroup: cgroup) { phase in
                            if showProgress { printProgress("\(label): \(phase)…") }
                        }
                    } catch is CompareInterrupted {
                        if showProgress { printProgress("") }
                        if let cgroup { try? cgroup.remove(timeout: .seconds(5)) }
                        printError("memprobe compare: interrupted; the running child was killed" + (cgroup != nil ? " and its cgroup removed" : ""))
                        throw ExitCode(130)
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
        if let output { try writeFile(output, text) } else { print(text, terminator: "") }
        if let plot { try writeFile(plot, ComparePlot.svg(report)) }
    }

    /// Per phase, the median over runs when every run measured it, else the first run's failed record.
    func combine(_ runs: [[CompareRecord]], phases: [String]) -> [CompareRecord] {
        phases.compactMap { phase in
            let all = runs.compactMap { run in run.first { $0.phase == phase } }
            if let failed = all.first(where: { $0.outcome != .ok }) { return failed }
            return all.isEmpty ? nil : CompareRecord.median(of: all)
        }
    }

    func writeFile(_ path: String, _ text: String) throws {
        guard let f = fopen(path, "w") else {
            printError("memprobe compare: cannot write \(path): \(String(cString: strerror(errno)))")
            throw ExitStatus.failure
        }
        defer { fclose(f) }
        _ = text.withCString { fputs($0, f) }
    }
}

/// Rewrites the current terminal line on standard error (empty text clears it).
func printProgress(_ text: String) {
    let line = "\r\u{1B}[2K" + text
    _ = line.withCString { fputs($0, stderr) }
    fflush(stderr)
}

