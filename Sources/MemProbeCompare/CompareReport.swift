import MemProbe
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The whole result of one `memprobe compare` run: its settings, a record per contender × scenario × phase,
/// and the verdicts computed from them. Encoded as the `--format json` document (schema in `docs/compare.md`).
package struct CompareReport: Codable, Sendable, Hashable {
    /// Schema identifier; bumped when a key changes meaning or disappears.
    package var schema: String = "memprobe-compare/1"
    package var items: Int
    package var requestedValueSize: Int
    package var valueSize: Int
    package var keep: Int
    package var repeatCount: Int
    package var memoryLimit: Int?
    package var pressure: Int?
    package var scenarios: [String]
    package var contenders: [String]
    package var records: [CompareRecord]
    package var verdicts: [CompareVerdict]
    /// Wall time of the whole run.
    package var totalNanoseconds: Int

    package init(
        items: Int, requestedValueSize: Int, valueSize: Int, keep: Int, repeatCount: Int, memoryLimit: Int?,
        pressure: Int?, scenarios: [CompareScenario], contenders: [CompareContender], records: [CompareRecord],
        totalNanoseconds: Int
    ) {
        self.items = items
        self.requestedValueSize = requestedValueSize
        self.valueSize = valueSize
        self.keep = keep
        self.repeatCount = repeatCount
        self.memoryLimit = memoryLimit
        self.pressure = pressure
        self.scenarios = scenarios.map(\.rawValue)
        self.contenders = contenders.map(\.rawValue)
        self.records = records
        self.verdicts = CompareVerdicts.compute(from: records, pressure: memoryLimit != nil)
        self.totalNanoseconds = totalNanoseconds
    }

    enum CodingKeys: String, CodingKey {
        case schema, items, requestedValueSize, valueSize, keep, repeatCount = "repeat", memoryLimit, pressure
        case scenarios, contenders, records, verdicts, totalNanoseconds
    }

    // Explicit: `memoryLimit`/`pressure` are `null` when unset, not missing.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(items, forKey: .items)
        try c.encode(requestedValueSize, forKey: .requestedValueSize)
        try c.encode(valueSize, forKey: .valueSize)
        try c.encode(keep, forKey: .keep)
        try c.encode(repeatCount, forKey: .repeatCount)
        try c.encode(memoryLimit, forKey: .memoryLimit)
        try c.encode(pressure, forKey: .pressure)
        try c.encode(scenarios, forKey: .scenarios)
        try c.encode(contenders, forKey: .contenders)
        try c.encode(records, forKey: .records)
        try c.encode(verdicts, forKey: .verdicts)
        try c.encode(totalNanoseconds, forKey: .totalNanoseconds)
    }

    /// The records of one scenario and contender, in phase order.
    package func records(scenario: String, contender: String) -> [CompareRecord] {
        records.filter { $0.scenario == scenario && $0.contender == contender }
    }

    /// How a contender's run of a scenario ended: the first non-ok outcome, else ok.
    package func outcome(scenario: String, contender: String) -> CompareOutcome {
        records(scenario: scenario, contender: contender).first { $0.outcome != .ok }?.outcome ?? .ok
    }

    // MARK: Rendering

    /// Output formats of `--format`.
    package enum Format: String, CaseIterable, Sendable {
        case table, json, csv, markdown
    }

    /// The report in `format`.
    package func render(_ format: Format) throws -> String {
        switch format {
        case .table: renderTable(markdown: false)
        case .markdown: renderTable(markdown: true)
        case .csv: renderCSV()
        case .json: try renderJSON()
        }
    }

    package func renderJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// One header line (``CompareRecord/keys``) and one row per record; absent figures are empty cells.
    package func renderCSV() -> String {
        var lines = [CompareRecord.keys.joined(separator: ",")]
        for r in records {
            var cells = [r.contender, r.scenario, r.phase, r.outcome.rawValue].map(csvEscape)
            cells += r.numericFields.map { $0.1.map(String.init) ?? "" }
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func csvEscape(_ s: String) -> String {
        s.contains(",") || s.contains("\"") ? "\"" + s.replacing("\"", with: "\"\"") + "\"" : s
    }

    static func duration(_ ns: Int?) -> String {
        guard let ns else { return "—" }
        if ns >= 1_000_000_000 { return ByteFormat.oneDecimal(Double(ns) / 1e9) + " s" }
        if ns >= 1_000_000 { return "\(Int((Double(ns) / 1e6).rounded())) ms" }
        if ns >= 1_000 { return "\(Int((Double(ns) / 1e3).rounded())) µs" }
        return "\(ns) ns"
    }

    private func outcomeText(_ o: CompareOutcome) -> String {
        switch o {
        case .ok: "ok"
        case .oomKilled: "OOM-KILLED"
        case .crashed: "CRASHED"
        }
    }

    /// Tables per scenario (an RSS matrix: contenders × phases, then every figure per contender and phase),
    /// the verdicts, and with `--memory-limit` who survived.
    func renderTable(markdown: Bool) -> String {
        var out: [String] = []
        let sizeText = valueSize == requestedValueSize
            ? ByteFormat.human(valueSize) : "\(ByteFormat.human(valueSize)) (requested \(requestedValueSize) B)"
        out.append(heading("memprobe compare: \(items.formatted) values × \(sizeText)"
            + (memoryLimit.map { ", memory limit \(ByteFormat.human($0)), pressure \(ByteFormat.human(pressure ?? 0))" } ?? "")
            + (repeatCount > 1 ? ", median of \(repeatCount) runs" : ""), level: 1, markdown: markdown))
        for scenario in scenarios {
            guard let s = CompareScenario(rawValue: scenario) else { continue }
            let phases = s.phases(withPressure: memoryLimit != nil)
            out.append(heading("Scenario \(scenario): RSS per phase (RSS − LazyFree in brackets when they differ)", level: 2, markdown: markdown))
            var matrix = TextTable(headers: ["contender"] + phases)
            for c in contenders {
                let recs = records(scenario: scenario, contender: c)
                guard !recs.isEmpty else { continue }
                matrix.append([c] + phases.map { p in
                    guard let r = recs.first(where: { $0.phase == p }) else { return "" }
                    guard r.outcome == .ok else { return outcomeText(r.outcome) }
                    let rss = ByteFormat.human(r.rss)
                    if let e = r.effectiveRss, let v = r.rss, v - e >= 1 << 20 { return "\(rss) [\(ByteFormat.human(e))]" }
                    return rss
                })
            }
            out.append(render(matrix, markdown: markdown))
            out.append(heading("Scenario \(scenario): every figure", level: 2, markdown: markdown))
            // 11 columns fit 120: items, the lazy part of Released and the release time are in JSON/CSV.
            var detail = TextTable(headers: [
                "phase", "Alloc", "HeapInuse", "Sys", "Released", "RSS", "LazyFree", "RSS−Lazy",
                "Resident", memoryLimit != nil ? "cg WS" : "cg usage", "time",
            ])
            for c in contenders {
                let recs = records(scenario: scenario, contender: c)
                guard !recs.isEmpty else { continue }
                if markdown { detail.append(["**\(c)**"]) } else { detail.appendSection("\(c)  (\(outcomeText(outcome(scenario: scenario, contender: c))))") }
                for r in recs {
                    guard r.outcome == .ok else { detail.append([r.phase, outcomeText(r.outcome)]); continue }
                    detail.append([
                        r.phase, ByteFormat.human(r.alloc), ByteFormat.human(r.heapInuse), ByteFormat.human(r.sys),
                        ByteFormat.human(r.heapReleased), ByteFormat.human(r.rss), ByteFormat.human(r.lazyFree),
                        ByteFormat.human(r.effectiveRss), ByteFormat.human(r.arenaResident),
                        memoryLimit != nil ? ByteFormat.human(r.cgroupWorkingSet) : ByteFormat.human(r.cgroupUsage),
                        Self.duration(r.phaseNanoseconds),
                    ])
                }
            }
            out.append(render(detail, markdown: markdown))
            if memoryLimit != nil { out.append(survival(scenario: s, markdown: markdown)) }
            out.append("Released: idle pages given back (lazy + discarded; the JSON splits them). Resident: the arena's pages by mincore.\n"
                + (memoryLimit != nil ? "cg WS: the child's cgroup working set (usage − inactive_file)." : "cg usage: only with --memory-limit.")
                + "\nDictionary figures come from mallinfo2 (Alloc = uordblks + hblkhd, Sys = arena + hblkhd).")
        }
        out.append(heading("Verdicts (computed from the figures above)", level: 2, markdown: markdown))
        if verdicts.isEmpty {
            out.append("No verdict: no figure grew by \(ByteFormat.human(CompareVerdicts.minimumReference)) or more.")
        } else {
            var t = TextTable(headers: ["contender", "verdict", "measurement"], alignments: [.left, .left, .left])
            var lastClaim = ""
            for v in verdicts {
                let claim = "\(v.scenario): “\(v.claim)”"
                if claim != lastClaim {
                    if markdown { t.append(["**\(claim)**"]) } else { t.appendSection(claim) }
                }
                t.append([v.contender, v.verdict.rawValue.uppercased(), v.measurement])
                lastClaim = claim
            }
            out.append(render(t, markdown: markdown))
        }
        out.append("Total run time \(Self.duration(totalNanoseconds)).")
        return out.joined(separator: "\n\n") + "\n"
    }

    private func survival(scenario: CompareScenario, markdown: Bool) -> String {
        var t = TextTable(headers: ["contender", "outcome", "LazyFree before pressure", "LazyFree under pressure", "taken back"])
        for c in contenders {
            let recs = records(scenario: scenario.rawValue, contender: c)
            guard !recs.isEmpty else { continue }
            let before = recs.first { $0.phase == scenario.pressureAfter && $0.outcome == .ok }?.lazyFree
            let under = recs.first { $0.phase == "pressure" && $0.outcome == .ok }?.lazyFree
            let taken = before.flatMap { b in under.map { b - $0 } }
            let o = outcome(scenario: scenario.rawValue, contender: c)
            t.append([c, o == .ok ? "survived" : outcomeText(o), ByteFormat.human(before), ByteFormat.human(under), ByteFormat.human(taken)])
        }
        return heading("Scenario \(scenario.rawValue): under the memory limit", level: 2, markdown: markdown) + "\n\n" + render(t, markdown: markdown)
    }

    private func heading(_ text: String, level: Int, markdown: Bool) -> String {
        markdown ? String(repeating: "#", count: level + 1) + " " + text : (level == 1 ? text : "── " + text)
    }

    private func render(_ table: TextTable, markdown: Bool) -> String {
        guard markdown else { return table.render() }
        func row(_ cells: [String]) -> String {
            "| " + table.headers.indices.map { i in
                (i < cells.count ? cells[i] : "").replacing("|", with: "\\|")
            }.joined(separator: " | ") + " |"
        }
        var lines = [row(table.headers), "|" + table.alignments.map { $0 == .left ? "---|" : "---:|" }.joined()]
        for r in table.rows { lines.append(row(r)) }
        return lines.joined(separator: "\n")
    }
}

extension Int {
    /// `1000000` → `1,000,000`.
    var formatted: String {
        let digits = String(magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (self < 0 ? "-" : "") + out
    }
}
