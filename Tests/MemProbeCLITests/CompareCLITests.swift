#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import MemProbe
import MemProbeCompare
import MemProbeSystem
import Testing
import MemProbeTestSupport

/// End-to-end tests of `memprobe compare`: the real binary, real child processes, real kernel figures.
@Suite("memprobe compare")
struct CompareCLITests {
    static let items = 20_000
    static let valueSize = 1024
    static let payload = items * valueSize
    static let contenders = ["dictionary", "dictionary-boxed+trim", "arena:retain", "arena:lazyFree", "arena:dontNeed"]
    static let phases = ["start", "inserted", "removed", "dropped", "released"]

    /// One JSON run shared by the tests that read it (plus its SVG).
    struct Run: Sendable {
        var json: Data
        var report: CompareReport
        var svg: Data
    }

    static let run: Result<Run, CompareTestError> = {
        let svgPath = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-compare-\(UUID().uuidString).svg").path
        defer { try? FileManager.default.removeItem(atPath: svgPath) }
        do {
            let r = try CLIProcess.run([
                "compare", "--items", String(items), "--value-size", String(valueSize), "--contenders",
                contenders.joined(separator: ","), "--format", "json", "--plot", svgPath,
            ])
            guard r.status == 0 else { return .failure(CompareTestError("exit \(r.status): \(r.stderr)")) }
            let json = Data(r.stdout.utf8)
            let report = try JSONDecoder().decode(CompareReport.self, from: json)
            let svg = try Data(contentsOf: URL(fileURLWithPath: svgPath))
            return .success(Run(json: json, report: report, svg: svg))
        } catch {
            return .failure(CompareTestError("\(error)"))
        }
    }()

    struct CompareTestError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func record(_ report: CompareReport, _ contender: String, _ phase: String, scenario: String = "seed") throws -> CompareRecord {
        try #require(report.records.first { $0.contender == contender && $0.phase == phase && $0.scenario == scenario })
    }

    @Test("JSON: one record per contender × phase, every schema key present (null where absent)")
    func jsonSchema() throws {
        let run = try Self.run.get()
        let object = try #require(try JSONSerialization.jsonObject(with: run.json) as? [String: Any])
        #expect(object["schema"] as? String == "memprobe-compare/1")
        let records = try #require(object["records"] as? [[String: Any]])
        #expect(records.count == Self.contenders.count * Self.phases.count)
        for r in records {
            for key in CompareRecord.keys { #expect(r.keys.contains(key), "record lacks \(key)") }
            #expect(["ok", "oom-killed", "crashed"].contains(r["outcome"] as? String ?? ""))
            for key in ["alloc", "sys", "rss", "lazyFree"] {
                #expect(r[key] is Int, "\(key) should be an integer in \(r["contender"] ?? "?")/\(r["phase"] ?? "?")")
            }
        }
        // Dictionary has no HeapInuse/HeapReleased (glibc does not know them): null, not missing.
        let dict = try #require(records.first { $0["contender"] as? String == "dictionary" })
        #expect(dict["heapInuse"] is NSNull)
        #expect(dict["heapReleased"] is NSNull)
        for c in Self.contenders {
            #expect(run.report.records(scenario: "seed", contender: c).map(\.phase) == Self.phases)
            #expect(run.report.outcome(scenario: "seed", contender: c) == .ok)
        }
    }

    @Test("JSON validates against docs/compare.schema.json")
    func jsonAgainstSchemaFile() throws {
        let run = try Self.run.get()
        let schemaURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/compare.schema.json")
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: schemaURL)) as? [String: Any])
        let document = try JSONSerialization.jsonObject(with: run.json)
        let errors = SchemaCheck.validate(document, schema, path: "$")
        #expect(errors.isEmpty, "\(errors.prefix(10))")
        // And the checker does reject a broken document.
        var broken = try #require(document as? [String: Any])
        var records = try #require(broken["records"] as? [[String: Any]])
        records[0]["rss"] = "12 MiB"
        records[1].removeValue(forKey: "lazyFree")
        broken["records"] = records
        #expect(SchemaCheck.validate(broken, schema, path: "$").count == 2)
    }

    /// 2 MiB is the map's promise; the process also holds its heap sampler's tables and the background drainer's
    /// thread stack, which a loaded run measured at up to ~0.1 MiB past it, hence 3 MiB for the whole process.
    @Test("arena:dontNeed: RSS after drop within 3 MiB of the start")
    func dontNeedDrop() throws {
        let report = try Self.run.get().report
        let start = try #require(try record(report, "arena:dontNeed", "start").rss)
        let inserted = try #require(try record(report, "arena:dontNeed", "inserted").rss)
        let dropped = try #require(try record(report, "arena:dontNeed", "dropped").rss)
        #expect(inserted - start >= Self.payload * 9 / 10, "the inserts must really touch the payload")
        #expect(abs(dropped - start) <= 3 << 20, "start \(start), dropped \(dropped)")
    }

    @Test("arena:lazyFree: LazyFree after drop ≥ 90 % of the payload while RSS stays up")
    func lazyFreeDrop() throws {
        let report = try Self.run.get().report
        let start = try record(report, "arena:lazyFree", "start")
        let dropped = try record(report, "arena:lazyFree", "dropped")
        let lazy = try #require(dropped.lazyFree)
        #expect(lazy >= Self.payload * 9 / 10, "LazyFree \(lazy)")
        #expect(try #require(dropped.rss) - (try #require(start.rss)) >= Self.payload * 9 / 10, "RSS did not stay up")
        #expect(try #require(dropped.heapReleasedLazy) >= Self.payload * 9 / 10, "the arena's books should show it lazy too")
    }

    @Test("arena:retain: RSS stays high after drop and release")
    func retainStaysHigh() throws {
        let report = try Self.run.get().report
        let start = try #require(try record(report, "arena:retain", "start").rss)
        let released = try #require(try record(report, "arena:retain", "released").rss)
        #expect(released - start >= Self.payload * 9 / 10)
        #expect(try record(report, "arena:retain", "released").lazyFree == 0)
    }

    @Test("dictionary: Alloc stays after removing every value, goes after drop")
    func dictionaryAlloc() throws {
        let report = try Self.run.get().report
        let inserted = try #require(try record(report, "dictionary", "inserted").alloc)
        let removed = try #require(try record(report, "dictionary", "removed").alloc)
        let dropped = try #require(try record(report, "dictionary", "dropped").alloc)
        #expect(removed >= inserted * 9 / 10, "Dictionary does not shrink on removeValue")
        #expect(dropped < inserted / 10)
    }

    @Test("verdicts are what their records and thresholds give")
    func verdictsMatchFigures() throws {
        let report = try Self.run.get().report
        #expect(!report.verdicts.isEmpty)
        for v in report.verdicts {
            let figure = { (phase: String) throws -> Int in
                let r = try record(report, v.contender, phase, scenario: v.scenario)
                return try #require(r.numericFields.first { $0.0 == v.figure }?.1)
            }
            let base = try figure(v.baselinePhase)
            #expect(v.reference == (try figure(v.peakPhase)) - base)
            #expect(v.remaining == (try figure(v.phase)) - base)
            #expect(v.verdict == CompareVerdict.classify(
                Double(v.remaining) / Double(v.reference), direction: v.direction, trueThreshold: v.trueThreshold,
                falseThreshold: v.falseThreshold))
        }
        // The article's headline facts, as this run measured them.
        let madvFree = try #require(report.verdicts.first { $0.claim == "MADV_FREE lowers RSS" })
        #expect(madvFree.verdict == .false)
        let retain = try #require(report.verdicts.first { $0.contender == "arena:retain" && $0.figure == "rss" })
        #expect(retain.verdict == .false)
        let dontNeed = try #require(report.verdicts.first { $0.contender == "arena:dontNeed" && $0.figure == "rss" })
        #expect(dontNeed.verdict == .true)
    }

    @Test("SVG is well-formed XML with one series per contender")
    func svgWellFormed() throws {
        let svg = try Self.run.get().svg
        final class Collector: NSObject, XMLParserDelegate {
            var series: [String] = []
            var root = ""
            func parser(_ p: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                if root.isEmpty { root = name }
                if name == "g", attributes["class"] == "series", let c = attributes["data-contender"] { series.append(c) }
            }
        }
        let parser = XMLParser(data: svg)
        let collector = Collector()
        parser.delegate = collector
        #expect(parser.parse(), "XML error: \(String(describing: parser.parserError))")
        #expect(collector.root == "svg")
        #expect(collector.series == Self.contenders)
        let text = String(decoding: svg, as: UTF8.self)
        #expect(text.contains("memory (MiB)"), "y axis label with units")
        #expect(text.contains(">released</text>"), "x axis: phase labels")
    }

    @Test("CSV: a header and one row per phase × contender")
    func csv() throws {
        let r = try CLIProcess.run([
            "compare", "--items", "3000", "--value-size", "100", "--contenders", "dictionary,arena:unmap", "--format", "csv",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == CompareRecord.keys.joined(separator: ","))
        #expect(lines.count == 1 + 2 * Self.phases.count)
        for line in lines.dropFirst() {
            #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == CompareRecord.keys.count)
        }
        // 100 B is stored as 128 B inline; both sizes are reported.
        let header = CompareRecord.keys
        let first = lines[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(first[header.firstIndex(of: "valueSize")!] == "128")
        #expect(first[header.firstIndex(of: "requestedValueSize")!] == "100")
    }

    @Test("table and markdown render every contender and the verdicts")
    func tableAndMarkdown() throws {
        let r = try CLIProcess.run(["compare", "--items", "3000", "--contenders", "dictionary-boxed,arena:decay", "--format", "markdown"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("| dictionary-boxed |"))
        #expect(r.stdout.contains("**arena:decay**"))
        #expect(r.stdout.contains("## Verdicts"))
        #expect(r.stderr.isEmpty, "no progress when stderr is not a terminal: \(r.stderr)")
        let t = try CLIProcess.run(["compare", "--items", "3000", "--contenders", "arena:unmap"])
        #expect(t.status == 0)
        #expect(t.stdout.contains("── Scenario seed: RSS per phase"))
        for line in t.stdout.split(separator: "\n") { #expect(line.count <= 120, "too wide: \(line)") }
    }

    @Test("bad arguments exit 64 with the valid choices", arguments: [
        (["--items", "0"], "--items"),
        (["--value-size", "-1"], "--value-size"),
        (["--value-size", "128k"], "64 KiB"),
        (["--memory-limit", "10x"], "--memory-limit"),
        (["--contenders", "dictionary,btree"], "arena:dontNeed"),
        (["--scenario", "seeds"], "churn"),
        (["--format", "yaml"], "markdown"),
        (["--pressure", "10M"], "--memory-limit"),
    ])
    func badArguments(args: [String], mentions: String) throws {
        let r = try CLIProcess.run(["compare"] + args)
        #expect(r.status == 64, "\(args): exit \(r.status)")
        #expect(r.stderr.contains(mentions), "\(args): \(r.stderr)")
    }

    @Test("a run larger than MemAvailable is refused before any child starts")
    func refusesTooBig() throws {
        let r = try CLIProcess.run(["compare", "--items", "2000000000", "--value-size", "64k"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("MemAvailable"), "\(r.stderr)")
    }

    @Test("--memory-limit without root exits 2 and says what is needed",
          .enabled(if: HardeningCLITests.canRunAsNobody, "needs root, setpriv and a build folder uid 65534 may execute"))
    func memoryLimitNeedsRoot() throws {
        let r = try CLIProcess.run(
            ["compare", "--items", "1000", "--contenders", "dictionary", "--memory-limit", "64M"],
            wrapper: HardeningCLITests.nobody)
        #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("root"), "\(r.stderr)")
    }

    @Test("--memory-limit: retain is OOM-killed, dontNeed and lazyFree survive, the cgroups are removed",
          .enabled(if: HardeningCLITests.cgroupParent != nil, "needs root and a writable memory cgroup"))
    func memoryLimit() throws {
        let parent = try #require(HardeningCLITests.cgroupParent)
        let r = try CLIProcess.run([
            "compare", "--items", String(Self.items), "--contenders", "arena:retain,arena:dontNeed,arena:lazyFree",
            "--memory-limit", "64M", "--pressure", "52M", "--format", "json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONDecoder().decode(CompareReport.self, from: Data(r.stdout.utf8))
        #expect(report.outcome(scenario: "seed", contender: "arena:retain") == .oomKilled)
        #expect(report.outcome(scenario: "seed", contender: "arena:dontNeed") == .ok)
        #expect(report.outcome(scenario: "seed", contender: "arena:lazyFree") == .ok)
        // The phases are there for everyone; the killed one's after the kill carry the outcome and no figures.
        let killed = report.records(scenario: "seed", contender: "arena:retain")
        #expect(killed.map(\.phase) == ["start", "inserted", "removed", "pressure", "dropped", "released"])
        #expect(killed.last?.rss == nil)
        // The kernel took lazily freed pages back instead of killing.
        let before = try #require(try record(report, "arena:lazyFree", "removed").lazyFree)
        let under = try #require(try record(report, "arena:lazyFree", "pressure").lazyFree)
        #expect(under < before, "LazyFree before \(before), under pressure \(under)")
        #expect(try record(report, "arena:dontNeed", "pressure").cgroupLimit == 64 << 20)
        // Only cgroups of memprobe processes that are gone count (other tests may be running one right now).
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: parent.directory).filter { name in
            guard name.hasPrefix("memprobe-compare-") else { return false }
            let pid = name.split(separator: "-").dropFirst(2).first.flatMap { Int32($0) } ?? 0
            return kill(pid, 0) != 0
        }
        #expect(leftovers.isEmpty, "cgroups left behind: \(leftovers)")
    }
}

extension CompareCLITests {
    @Test("Ctrl-C kills the running child, removes its cgroup and exits 130")
    func interrupt() throws {
        let support = MemoryCgroup.managementSupport()
        var args = ["compare", "--items", "400000", "--contenders", "arena:retain,dictionary", "--format", "json"]
        if support.parent != nil { args += ["--memory-limit", "1G"] }  // the cgroup part runs where cgroups can be made
        let p = Process()
        p.executableURL = CLIProcess.executable
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let name = "memprobe-compare-\(p.processIdentifier)-1"
        // Wait until the first child is running (its cgroup exists, or a compare-worker child appears).
        let worker = try #require(firstChild(of: p.processIdentifier, within: .seconds(4)), "no worker child appeared")
        if let parent = support.parent {
            #expect(FileManager.default.fileExists(atPath: parent.directory + "/" + name))
        }
        p.interrupt()
        p.waitUntilExit()
        #expect(p.terminationReason == .exit)
        #expect(p.terminationStatus == 130)
        #expect(kill(worker, 0) != 0, "the worker must be gone")
        if let parent = support.parent {
            #expect(!FileManager.default.fileExists(atPath: parent.directory + "/" + name), "cgroup left behind")
        }
    }

    @Test("a crashed child is reported as crashed; the others still run; --output writes the file")
    func crashedChild() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-compare-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var env = ProcessInfo.processInfo.environment
        env["MEMPROBE_COMPARE_CRASH_AFTER"] = "removed@dictionary"
        let r = try CLIProcess.run(
            ["compare", "--items", "2000", "--contenders", "dictionary,arena:dontNeed", "--format", "json", "--output", out,
             "--repeat", "2"],
            environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty, "the report goes to --output")
        #expect(r.stderr.contains("dictionary (seed): killed by signal \(SIGABRT)"), "\(r.stderr)")
        let report = try JSONDecoder().decode(CompareReport.self, from: Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(report.repeatCount == 2)
        let dict = report.records(scenario: "seed", contender: "dictionary")
        #expect(dict.map(\.phase) == Self.phases)
        #expect(dict.map(\.outcome) == [.ok, .ok, .ok, .crashed, .crashed])
        #expect(dict[3].rss == nil && dict[2].rss != nil)
        #expect(report.outcome(scenario: "seed", contender: "arena:dontNeed") == .ok)
        #expect(report.records(scenario: "seed", contender: "arena:dontNeed").allSatisfy { $0.rss != nil })
    }
}

@Suite("compare model")
struct CompareModelTests {
    @Test func contenderNames() throws {
        #expect(CompareContender.allCases.map(\.rawValue) == [
            "dictionary", "dictionary+trim", "dictionary-boxed", "dictionary-boxed+trim", "arena:retain", "arena:lazyFree",
            "arena:dontNeed", "arena:unmap", "arena:decay", "arena:freeThenPageOut",
        ])
        #expect(try CompareContender.parseList("all").count == CompareContender.allCases.count)
        #expect(try CompareContender.parseList("ARENA:DONTNEED, dictionary") == [.arenaDontNeed, .dictionary])
        #expect(throws: CompareError.unknownContender("nope")) { try CompareContender.parseList("dictionary,nope") }
        #expect(throws: CompareError.unknownScenario("x")) { try CompareScenario.parseList("x") }
    }

    @Test func valueSizes() {
        #expect(CompareValueSize.stored(forRequested: 1) == 8)
        #expect(CompareValueSize.stored(forRequested: 1024) == 1024)
        #expect(CompareValueSize.stored(forRequested: 1025) == 2048)
        #expect(CompareValueSize.stored(forRequested: 65536) == 65536)
        #expect(CompareValueSize.stored(forRequested: 65537) == nil)
        #expect(CompareValueSize.stored(forRequested: 0) == nil)
    }

    @Test func pressurePhasePlacement() {
        #expect(CompareScenario.seed.phases(withPressure: true) == ["start", "inserted", "removed", "pressure", "dropped", "released"])
        #expect(CompareScenario.churn.phases(withPressure: true).last == "pressure")
    }

    @Test func classify() {
        #expect(CompareVerdict.classify(0.05, direction: .atMost, trueThreshold: 0.1, falseThreshold: 0.5) == .true)
        #expect(CompareVerdict.classify(0.3, direction: .atMost, trueThreshold: 0.1, falseThreshold: 0.5) == .partly)
        #expect(CompareVerdict.classify(0.9, direction: .atMost, trueThreshold: 0.1, falseThreshold: 0.5) == .false)
        #expect(CompareVerdict.classify(1.2, direction: .atLeast, trueThreshold: 1.1, falseThreshold: 1.02) == .true)
    }

    @Test func recordEncodesNulls() throws {
        let r = CompareRecord(contender: "dictionary", scenario: "seed", phase: "start", valueSize: 8, requestedValueSize: 8)
        let text = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        #expect(text.contains("\"heapInuse\":null"))
        let back = try JSONDecoder().decode(CompareRecord.self, from: Data(text.utf8))
        #expect(back == r)
    }

    @Test("an OOM-killed contender shows in the table, the survival section, CSV and the plot legend")
    func rendersOutcomes() throws {
        let phases = CompareScenario.seed.phases(withPressure: true)
        func records(_ c: String, dieAt: Int?) -> [CompareRecord] {
            phases.enumerated().map { i, p in
                var r = CompareRecord(contender: c, scenario: "seed", phase: p, valueSize: 1024, requestedValueSize: 1000)
                if let d = dieAt, i >= d { r.outcome = .oomKilled; return r }
                r.rss = (i == 1 ? 100 : 10) << 20
                r.lazyFree = c == "arena:lazyFree" && i >= 2 ? (i == 3 ? 40 : 90) << 20 : 0
                r.effectiveRss = r.rss! - r.lazyFree!
                return r
            }
        }
        let report = CompareReport(
            items: 1000, requestedValueSize: 1000, valueSize: 1024, keep: 100, repeatCount: 1, memoryLimit: 128 << 20,
            pressure: 64 << 20, scenarios: [.seed], contenders: [.arenaRetain, .arenaLazyFree],
            records: records("arena:retain", dieAt: 3) + records("arena:lazyFree", dieAt: nil), totalNanoseconds: 1)
        let table = try report.render(.table)
        #expect(table.contains("OOM-KILLED"))
        #expect(table.contains("1,000 values × 1.0 KiB (requested 1000 B), memory limit 128.0 MiB, pressure 64.0 MiB"))
        let survival = try #require(table.split(separator: "\n").first { $0.hasPrefix("arena:lazyFree") && $0.contains("survived") })
        #expect(survival.contains("90.0 MiB") && survival.contains("40.0 MiB") && survival.contains("50.0 MiB"), "\(survival)")
        let lazyVerdict = try #require(report.verdicts.first { $0.figure == "lazyFree" })
        #expect(lazyVerdict.contender == "arena:lazyFree" && lazyVerdict.verdict == .true)
        #expect(!report.verdicts.contains { $0.contender == "arena:retain" && $0.phase == "pressure" })
        let csv = report.renderCSV().split(separator: "\n")
        #expect(csv.count == 1 + 2 * phases.count)
        #expect(csv.filter { $0.contains(",oom-killed,") }.count == phases.count - 3)
        // The outcome sits on its own line under the contender's title (a long title plus outcome overflowed its cell).
        let svg = ComparePlot.svg(report)
        #expect(svg.contains(">arena:retain</text>") && svg.contains(">(oom-killed)</text>"))
        #expect(try report.render(.markdown).contains("| arena:retain | OOM-KILLED |"))
    }

    @Test func medians() {
        var a = CompareRecord(contender: "c", scenario: "seed", phase: "p", valueSize: 8, requestedValueSize: 8)
        var b = a, c = a
        a.rss = 10; b.rss = 30; c.rss = 20
        #expect(CompareRecord.median(of: [a, b, c]).rss == 20)
    }
}

/// A checker for the JSON Schema subset docs/compare.schema.json uses: type, enum, required, properties,
/// additionalProperties: false, items.
enum SchemaCheck {
    static func validate(_ value: Any, _ schema: [String: Any], path: String) -> [String] {
        if let t = schema["type"] {
            let types = (t as? [String]) ?? [t as? String ?? ""]
            guard types.contains(where: { matches(value, $0) }) else { return ["\(path): \(value) is not \(types)"] }
        }
        var errors: [String] = []
        if let allowed = schema["enum"] as? [String], let s = value as? String, !allowed.contains(s) {
            errors.append("\(path): '\(s)' not in \(allowed)")
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                errors.append("\(path): missing \(key)")
            }
            if schema["additionalProperties"] as? Bool == false {
                for key in object.keys where properties[key] == nil { errors.append("\(path): unexpected \(key)") }
            }
            for (key, sub) in properties { if let v = object[key] { errors += validate(v, sub, path: "\(path).\(key)") } }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (i, v) in array.enumerated() { errors += validate(v, items, path: "\(path)[\(i)]") }
        }
        return errors
    }

    static func matches(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "string": return value is String
        case "array": return value is [Any]
        case "object": return value is [String: Any]
        case "number": return !(value is String) && (value as? NSNumber) != nil
        case "integer":
            guard !(value is String), let n = value as? NSNumber else { return false }
            return n.doubleValue == n.doubleValue.rounded()
        default: return false
        }
    }
}
