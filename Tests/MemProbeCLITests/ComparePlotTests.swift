import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import MemProbe
import MemProbeCompare
import Testing
import MemProbeTestSupport

/// Issue 12 item 7: the SVG with OOM-killed contenders, checked on its structure (each claim is a property of
/// the document, not of a picture).
@Suite("compare plot")
struct ComparePlotTests {
    static func report(_ contenders: [CompareContender], killed: Set<CompareContender>, limit: Int? = 64 << 20) -> CompareReport {
        let phases = CompareScenario.seed.phases(withPressure: limit != nil)
        var records: [CompareRecord] = []
        for c in contenders {
            for (i, p) in phases.enumerated() {
                var r = CompareRecord(contender: c.rawValue, scenario: "seed", phase: p, valueSize: 1024, requestedValueSize: 1024)
                if killed.contains(c), i >= 3 { r.outcome = .oomKilled } else {
                    r.rss = (i == 1 ? 50 : 20) << 20
                    r.lazyFree = 0
                }
                records.append(r)
            }
        }
        return CompareReport(
            items: 20_000, requestedValueSize: 1024, valueSize: 1024, keep: 100, repeatCount: 1, memoryLimit: limit,
            pressure: limit.map { $0 / 2 }, scenarios: [.seed], contenders: contenders, records: records,
            totalNanoseconds: 1)
    }

    /// Parses the SVG and returns every element with its attributes.
    static func elements(_ svg: String) throws -> [(name: String, attributes: [String: String], text: String)] {
        let doc = try XMLDocument(data: Data(svg.utf8))
        var out: [(String, [String: String], String)] = []
        func walk(_ node: XMLNode) {
            if let e = node as? XMLElement {
                var attrs: [String: String] = [:]
                for a in e.attributes ?? [] { attrs[a.name ?? ""] = a.stringValue ?? "" }
                out.append((e.name ?? "", attrs, e.stringValue ?? ""))
            }
            for c in node.children ?? [] { walk(c) }
        }
        walk(doc.rootElement()!)
        return out
    }

    /// WCAG contrast ratio of `hex` against white.
    static func contrastOnWhite(_ hex: String) -> Double {
        let v = Int(hex.dropFirst(), radix: 16)!
        func channel(_ c: Int) -> Double {
            let s = Double(c) / 255
            return s <= 0.03928 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
        }
        let l = 0.2126 * channel(v >> 16 & 255) + 0.7152 * channel(v >> 8 & 255) + 0.0722 * channel(v & 255)
        return 1.05 / (l + 0.05)
    }

    @Test("a contender keeps its colour whatever its position and whichever others run")
    func coloursFollowTheContender() throws {
        func titleColours(_ r: CompareReport) throws -> [String: String] {
            var m: [String: String] = [:]
            for e in try Self.elements(ComparePlot.svg(r)) where e.attributes["class"] == "title" { m[e.text] = e.attributes["fill"] }
            return m
        }
        let a = try titleColours(Self.report([.dictionary, .arenaRetain, .arenaLazyFree], killed: []))
        let b = try titleColours(Self.report([.arenaLazyFree, .arenaDontNeed], killed: []))
        #expect(a["arena:lazyFree"] != nil && a["arena:lazyFree"] == b["arena:lazyFree"])
        #expect(Set(a.values).count == a.count, "distinct colours")
    }

    @Test("every contender colour reads on white (≥ 4.5:1), none is the key's grey")
    func contrast() throws {
        let svg = ComparePlot.svg(Self.report(CompareContender.allCases, killed: []))
        var colours: Set<String> = []
        for e in try Self.elements(svg) where e.attributes["class"] == "title" { colours.insert(try #require(e.attributes["fill"])) }
        #expect(colours.count == CompareContender.allCases.count)
        for c in colours { #expect(Self.contrastOnWhite(c) >= 4.5, "\(c): \(Self.contrastOnWhite(c))") }
        // The line-style key's strokes use a colour no series uses.
        let keyStrokes = try Self.elements(svg).filter { $0.name == "line" && $0.attributes["stroke-dasharray"] == "5 3" && $0.attributes["class"] == nil }
        #expect(!keyStrokes.isEmpty)
        for k in keyStrokes { #expect(!colours.contains(k.attributes["stroke"] ?? ""), "key stroke \(k.attributes["stroke"] ?? "")") }
    }

    @Test("titles fit their cells, also with the longest contender name and an outcome")
    func titlesFit() throws {
        let report = Self.report(CompareContender.allCases, killed: [.arenaFreeThenPageOut, .dictionaryBoxedTrim])
        let svg = ComparePlot.svg(report)
        let cell = 960.0 / 5
        let titled = try Self.elements(svg).filter { $0.attributes["class"] == "title" || $0.attributes["class"] == "outcome" }
        // One title per contender and one outcome line per killed one: the loop below must have something to check.
        #expect(titled.count == CompareContender.allCases.count + 2)
        for e in titled {
            let size = try #require(Double(e.attributes["font-size"] ?? ""))
            // DejaVu Sans Bold averages under 0.68 em per character.
            #expect(Double(e.text.count) * size * 0.68 <= cell - 4, "'\(e.text)' at \(size) px overflows \(cell) px")
            if e.attributes["class"] == "title" { #expect(!e.text.contains("("), "the outcome is on its own line") }
        }
    }

    @Test("a killed series ends with a kill mark; the memory limit is drawn")
    func killMarkAndLimit() throws {
        let report = Self.report([.arenaRetain, .arenaDontNeed], killed: [.arenaRetain])
        let elements = try Self.elements(ComparePlot.svg(report))
        let marks = elements.filter { $0.attributes["class"] == "kill-mark" }
        #expect(marks.count == 1)
        #expect(marks.first?.text.contains("arena:retain") == true)
        #expect(elements.filter { $0.attributes["class"] == "memory-limit" }.count == 2, "one limit line per chart")
        let none = try Self.elements(ComparePlot.svg(Self.report([.arenaRetain], killed: [], limit: nil)))
        #expect(none.filter { $0.attributes["class"] == "memory-limit" || $0.attributes["class"] == "kill-mark" }.isEmpty)
    }

    @Test("two contenders share the full width")
    func twoContendersFillTheWidth() throws {
        let elements = try Self.elements(ComparePlot.svg(Self.report([.dictionary, .arenaDontNeed], killed: [])))
        let xs = elements.filter { $0.attributes["class"] == "title" }.compactMap { Double($0.attributes["x"] ?? "") }
        #expect(xs.count == 2)
        // Cell centres at 1/4 and 3/4 of 960 px.
        #expect(xs.sorted() == [240, 720], "\(xs)")
    }
}

@Suite("compare record keys")
struct CompareRecordKeysTests {
    @Test("every schema key is an identity key, a value size or a mapped figure; encoder and CSV follow the schema")
    func oneSourceOfKeys() throws {
        var r = CompareRecord(contender: "c", scenario: "seed", phase: "p", valueSize: 8, requestedValueSize: 5)
        for (i, key) in CompareRecord.keys.enumerated() {
            r.set(key, 1000 + i)
        }
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any])
        #expect(Set(object.keys) == Set(CompareRecord.keys))
        // Every optional figure was set through the one table and comes back under its own key.
        for (i, key) in CompareRecord.keys.enumerated() where !["contender", "scenario", "phase", "outcome", "valueSize", "requestedValueSize"].contains(key) {
            #expect(object[key] as? Int == 1000 + i, "\(key)")
        }
        #expect(CompareRecord.keys.count == 4 + 2 + r.numericFields.count - 2)
        #expect(r.numericFields.map(\.0) == Array(CompareRecord.keys.dropFirst(4)))
    }
}
