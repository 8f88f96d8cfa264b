/// `--plot FILE.svg`: RSS (solid) and LazyFree (dashed) per phase, one colour per contender, one panel per scenario.
///
/// Plain SVG 1.1 with no script or external font, so browsers, GitHub and image viewers all show it. Each
/// contender's lines sit in one `<g class="series" data-contender="…" data-scenario="…">`.
public enum ComparePlot {
    /// Ten distinguishable colours (Tableau 10), in contender order.
    static let palette = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#2f2f2f",
    ]

    static let width = 960.0
    static let panelHeight = 420.0
    static let left = 90.0, right = 230.0, top = 50.0, bottom = 70.0

    /// The SVG document for `report`.
    public static func svg(_ report: CompareReport) -> String {
        let withPressure = report.memoryLimit != nil
        let scenarios = report.scenarios.compactMap(CompareScenario.init(rawValue:))
        let height = panelHeight * Double(max(1, scenarios.count))
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>

        """
        for (i, scenario) in scenarios.enumerated() {
            s += panel(report, scenario: scenario, phases: scenario.phases(withPressure: withPressure), yOffset: Double(i) * panelHeight)
        }
        s += "</svg>\n"
        return s
    }

    private static func panel(_ report: CompareReport, scenario: CompareScenario, phases: [String], yOffset: Double) -> String {
        let plotW = width - left - right
        let plotH = panelHeight - top - bottom
        let x0 = left, y0 = yOffset + top
        let recs = report.records.filter { $0.scenario == scenario.rawValue && $0.outcome == .ok }
        let maxValue = max(1, recs.map { max($0.rss ?? 0, $0.lazyFree ?? 0) }.max() ?? 1)
        let (unit, unitName) = maxValue >= 2 << 30 ? (Double(1 << 30), "GiB") : (maxValue >= 2 << 20 ? (Double(1 << 20), "MiB") : (1024.0, "KiB"))
        let step = niceStep(Double(maxValue) / unit / 5)
        let top = (Double(maxValue) / unit / step).rounded(.up) * step
        func x(_ i: Int) -> Double { x0 + (phases.count > 1 ? Double(i) / Double(phases.count - 1) : 0.5) * plotW }
        func y(_ v: Int) -> Double { y0 + plotH - (Double(v) / unit / top) * plotH }

        var s = "<g class=\"panel\" data-scenario=\"\(escape(scenario.rawValue))\">\n"
        s += text(x0 + plotW / 2, yOffset + 28, "Scenario \(scenario.rawValue): RSS (solid) and LazyFree (dashed), \(report.items.formatted) × \(ByteFormat.human(report.valueSize))", anchor: "middle", extra: " font-size=\"15\" font-weight=\"bold\"")
        // Grid and y axis.
        var v = 0.0
        while v <= top + step / 2 {
            let yy = y0 + plotH - v / top * plotH
            s += "<line x1=\"\(f(x0))\" y1=\"\(f(yy))\" x2=\"\(f(x0 + plotW))\" y2=\"\(f(yy))\" stroke=\"#dddddd\"/>\n"
            s += text(x0 - 8, yy + 4, trimmed(v), anchor: "end")
            v += step
        }
        s += "<line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x0))\" y2=\"\(f(y0 + plotH))\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(f(x0))\" y1=\"\(f(y0 + plotH))\" x2=\"\(f(x0 + plotW))\" y2=\"\(f(y0 + plotH))\" stroke=\"black\"/>\n"
        s += "<text x=\"\(f(x0 - 62))\" y=\"\(f(y0 + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 \(f(x0 - 62)) \(f(y0 + plotH / 2)))\">memory (\(unitName))</text>\n"
        for (i, p) in phases.enumerated() {
            s += "<line x1=\"\(f(x(i)))\" y1=\"\(f(y0 + plotH))\" x2=\"\(f(x(i)))\" y2=\"\(f(y0 + plotH + 5))\" stroke=\"black\"/>\n"
            s += text(x(i), y0 + plotH + 20, p, anchor: "middle")
        }
        s += text(x0 + plotW / 2, y0 + plotH + 45, "phase (in run order)", anchor: "middle")
        // Series and legend.
        for (ci, contender) in report.contenders.enumerated() {
            let colour = palette[ci % palette.count]
            let rows = recs.filter { $0.contender == contender }
            s += "<g class=\"series\" data-contender=\"\(escape(contender))\" data-scenario=\"\(escape(scenario.rawValue))\">\n"
            var rssPoints: [String] = [], lazyPoints: [String] = []
            var marks = ""
            for (i, p) in phases.enumerated() {
                guard let r = rows.first(where: { $0.phase == p }) else { continue }
                if let rss = r.rss {
                    rssPoints.append("\(f(x(i))),\(f(y(rss)))")
                    marks += "<circle cx=\"\(f(x(i)))\" cy=\"\(f(y(rss)))\" r=\"3\" fill=\"\(colour)\"><title>\(escape(contender)) \(escape(p)): RSS \(ByteFormat.human(rss)), LazyFree \(ByteFormat.human(r.lazyFree))</title></circle>\n"
                }
                if let lazy = r.lazyFree { lazyPoints.append("\(f(x(i))),\(f(y(lazy)))") }
            }
            s += "<polyline class=\"rss\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(rssPoints.joined(separator: " "))\"/>\n"
            s += "<polyline class=\"lazyFree\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\" points=\"\(lazyPoints.joined(separator: " "))\"/>\n"
            s += marks
            let ly = y0 + 10 + Double(ci) * 20
            let lx = x0 + plotW + 20
            let outcome = report.outcome(scenario: scenario.rawValue, contender: contender)
            s += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly))\" stroke=\"\(colour)\" stroke-width=\"3\"/>\n"
            s += text(lx + 30, ly + 4, contender + (outcome == .ok ? "" : " (\(outcome.rawValue))"))
            s += "</g>\n"
        }
        let ky = y0 + 20 + Double(report.contenders.count) * 20
        let kx = x0 + plotW + 20
        s += "<line x1=\"\(f(kx))\" y1=\"\(f(ky))\" x2=\"\(f(kx + 24))\" y2=\"\(f(ky))\" stroke=\"black\" stroke-width=\"2\"/>\n" + text(kx + 30, ky + 4, "RSS")
        s += "<line x1=\"\(f(kx))\" y1=\"\(f(ky + 20))\" x2=\"\(f(kx + 24))\" y2=\"\(f(ky + 20))\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n" + text(kx + 30, ky + 24, "LazyFree")
        s += "</g>\n"
        return s
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        for m in [1.0, 2.0, 2.5, 5.0, 10.0] where magnitude * m >= raw { return magnitude * m }
        return magnitude * 10
    }

    private static func f(_ v: Double) -> String { String(Double((v * 10).rounded()) / 10) }

    private static func trimmed(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(Double((v * 100).rounded()) / 100)
    }

    private static func text(_ x: Double, _ y: Double, _ s: String, anchor: String = "start", extra: String = "") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\"\(extra)>\(escape(s))</text>\n"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }
}
