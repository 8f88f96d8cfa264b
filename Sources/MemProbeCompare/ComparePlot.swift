import MemProbe
/// `--plot FILE.svg`: RSS (solid) and LazyFree (dashed) per phase, one colour per contender, one panel per scenario.
///
/// Plain SVG 1.1 with no script or external font, so browsers, GitHub and image viewers all show it. Each
/// contender's lines sit in one `<g class="series" data-contender="…" data-scenario="…">`.
package enum ComparePlot: SVGChart {
    /// One colour per contender, fixed by the contender (not by its position in this run), so a contender keeps
    /// its colour across runs. All ≥ 4.5:1 against white (WCAG AA for text: the titles are set in them), no greys
    /// (the line-style key is grey).
    static let contenderColours: [CompareContender: String] = [
        .dictionary: "#1f5fbf", .dictionaryTrim: "#6a3d9a", .dictionaryBoxed: "#8c4510", .dictionaryBoxedTrim: "#a4267a",
        .arenaRetain: "#c0262d", .arenaLazyFree: "#00737a", .arenaDontNeed: "#2e7d32", .arenaUnmap: "#5c6b00",
        .arenaDecay: "#b34700", .arenaFreeThenPageOut: "#3949ab",
    ]
    /// The colour of the line-style key and the axes: not any contender's.
    static let keyColour = "#555555"
    /// The memory-limit line and the kill marks.
    static let alertColour = "#000000"

    static func colour(of contender: String) -> String {
        CompareContender(rawValue: contender).flatMap { contenderColours[$0] } ?? "#333366"
    }

    static let width = 960.0
    static let maxColumns = 5
    /// Columns for `count` charts: as many as there are contenders (up to 5), so two contenders use the full width.
    static func columns(_ count: Int) -> Int { max(1, min(maxColumns, count)) }
    static let cellHeight = 220.0
    static let titleHeight = 60.0
    static let keyHeight = 30.0

    /// The SVG document for `report`: per scenario, small multiples (one chart per contender, same y scale),
    /// so contenders whose lines would coincide on one chart stay readable.
    package static func svg(_ report: CompareReport) -> String {
        let withPressure = report.memoryLimit != nil
        let scenarios = report.scenarios.compactMap(CompareScenario.init(rawValue:))
        let columns = columns(report.contenders.count)
        let rows = (report.contenders.count + columns - 1) / columns
        let sectionHeight = titleHeight + Double(max(1, rows)) * cellHeight + keyHeight
        let height = sectionHeight * Double(max(1, scenarios.count))
        var s = svgHeader(width: width, height: height)
        for (i, scenario) in scenarios.enumerated() {
            s += section(report, scenario: scenario, phases: scenario.phases(withPressure: withPressure), yOffset: Double(i) * sectionHeight)
        }
        s += "</svg>\n"
        return s
    }

    private static func section(_ report: CompareReport, scenario: CompareScenario, phases: [String], yOffset: Double) -> String {
        let recs = report.records.filter { $0.scenario == scenario.rawValue && $0.outcome == .ok }
        let columns = columns(report.contenders.count)
        let cellWidth = width / Double(columns)
        let maxValue = max(1, recs.map { max($0.rss ?? 0, $0.lazyFree ?? 0) }.max() ?? 1, report.memoryLimit ?? 0)
        let (unit, unitName) = byteUnit(for: maxValue)
        let axis = SVGAxis(max: Double(maxValue) / unit, divisions: 4)
        let top = axis.top
        let limitText = report.memoryLimit.map { ", memory limit \(ByteFormat.human($0))" } ?? ""

        var s = "<g class=\"panel\" data-scenario=\"\(escape(scenario.rawValue))\">\n"
        s += text(width / 2, yOffset + 24, "Scenario \(scenario.rawValue): \(report.items.formatted) values × \(ByteFormat.human(report.valueSize))\(limitText)", anchor: "middle", extra: " font-size=\"15\" font-weight=\"bold\"")
        s += text(width / 2, yOffset + 44, "RSS (solid) and LazyFree (dashed) in \(unitName) after each phase; one chart per contender, same scale", anchor: "middle", extra: " font-size=\"12\"")
        let plotLeft = 46.0, plotRight = 10.0, plotTop = 22.0, plotBottom = 62.0
        let plotW = cellWidth - plotLeft - plotRight
        let plotH = cellHeight - plotTop - plotBottom
        for (ci, contender) in report.contenders.enumerated() {
            let colour = colour(of: contender)
            let cx = Double(ci % columns) * cellWidth
            let cy = yOffset + titleHeight + Double(ci / columns) * cellHeight
            let x0 = cx + plotLeft, y0 = cy + plotTop
            func x(_ i: Int) -> Double { x0 + (phases.count > 1 ? Double(i) / Double(phases.count - 1) : 0.5) * plotW }
            func y(_ v: Int) -> Double { y0 + plotH - (Double(v) / unit / top) * plotH }
            let outcome = report.outcome(scenario: scenario.rawValue, contender: contender)
            s += "<g class=\"series\" data-contender=\"\(escape(contender))\" data-scenario=\"\(escape(scenario.rawValue))\">\n"
            // The title must fit its cell: shrink the font (down to 8 px) rather than run into the neighbour; the
            // outcome goes on a line of its own.
            let titleSize = fittingFontSize(contender, width: cellWidth - 8, preferred: 12, bold: true)
            s += text(cx + cellWidth / 2, cy + 12, contender, anchor: "middle", extra: " class=\"title\" font-weight=\"bold\" font-size=\"\(f(titleSize))\" fill=\"\(colour)\"")
            if outcome != .ok {
                s += text(cx + cellWidth / 2, cy + 22, "(\(outcome.rawValue))", anchor: "middle", extra: " class=\"outcome\" font-size=\"9\" fill=\"\(alertColour)\"")
            }
            for v in axis.ticks {
                let yy = y0 + plotH - v / top * plotH
                s += "<line x1=\"\(f(x0))\" y1=\"\(f(yy))\" x2=\"\(f(x0 + plotW))\" y2=\"\(f(yy))\" stroke=\"#e4e4e4\"/>\n"
                s += text(x0 - 4, yy + 4, trimmed(v), anchor: "end", extra: " font-size=\"10\"")
            }
            s += "<line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x0))\" y2=\"\(f(y0 + plotH))\" stroke=\"\(keyColour)\"/>\n"
            s += "<line x1=\"\(f(x0))\" y1=\"\(f(y0 + plotH))\" x2=\"\(f(x0 + plotW))\" y2=\"\(f(y0 + plotH))\" stroke=\"\(keyColour)\"/>\n"
            if let limit = report.memoryLimit {
                s += "<line class=\"memory-limit\" x1=\"\(f(x0))\" y1=\"\(f(y(limit)))\" x2=\"\(f(x0 + plotW))\" y2=\"\(f(y(limit)))\" stroke=\"\(alertColour)\" stroke-width=\"1\" stroke-dasharray=\"2 2\"/>\n"
                s += text(x0 + plotW, y(limit) - 3, "limit \(ByteFormat.human(limit))", anchor: "end", extra: " font-size=\"9\" fill=\"\(alertColour)\"")
            }
            if ci % columns == 0 {
                s += "<text x=\"\(f(cx + 10))\" y=\"\(f(y0 + plotH / 2))\" text-anchor=\"middle\" font-size=\"10\" transform=\"rotate(-90 \(f(cx + 10)) \(f(y0 + plotH / 2)))\">memory (\(unitName))</text>\n"
            }
            for (i, p) in phases.enumerated() {
                let lx = x(i), ly = y0 + plotH + 10
                s += "<text x=\"\(f(lx))\" y=\"\(f(ly))\" text-anchor=\"end\" font-size=\"9\" transform=\"rotate(-40 \(f(lx)) \(f(ly)))\">\(escape(p))</text>\n"
            }
            var rssPoints: [String] = [], lazyPoints: [String] = []
            var marks = ""
            for (i, p) in phases.enumerated() {
                guard let r = recs.first(where: { $0.contender == contender && $0.phase == p }) else { continue }
                if let rss = r.rss {
                    rssPoints.append("\(f(x(i))),\(f(y(rss)))")
                    marks += "<circle cx=\"\(f(x(i)))\" cy=\"\(f(y(rss)))\" r=\"2.5\" fill=\"\(colour)\"><title>\(escape(contender)) \(escape(p)): RSS \(ByteFormat.human(rss)), LazyFree \(ByteFormat.human(r.lazyFree))</title></circle>\n"
                }
                if let lazy = r.lazyFree { lazyPoints.append("\(f(x(i))),\(f(y(lazy)))") }
            }
            // Where the child was killed, the series ends with a mark (not just a line that stops).
            if outcome != .ok, let killedAt = phases.firstIndex(where: { p in
                report.records.contains { $0.scenario == scenario.rawValue && $0.contender == contender && $0.phase == p && $0.outcome != .ok }
            }) {
                let lastRss = phases[..<killedAt].reversed().lazy.compactMap { p in recs.first { $0.contender == contender && $0.phase == p }?.rss }.first
                let ky = lastRss.map(y) ?? report.memoryLimit.map(y) ?? (y0 + plotH)
                let kx = x(killedAt), r = 4.0
                s += "<g class=\"kill-mark\" stroke=\"\(alertColour)\" stroke-width=\"2\"><title>\(escape(contender)) \(escape(outcome.rawValue)) during \(escape(phases[killedAt]))</title>"
                s += "<line x1=\"\(f(kx - r))\" y1=\"\(f(ky - r))\" x2=\"\(f(kx + r))\" y2=\"\(f(ky + r))\"/><line x1=\"\(f(kx - r))\" y1=\"\(f(ky + r))\" x2=\"\(f(kx + r))\" y2=\"\(f(ky - r))\"/></g>\n"
                if let last = rssPoints.last { rssPoints.append("\(f(kx)),\(f(ky))"); _ = last }
            }
            s += "<polyline class=\"rss\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(rssPoints.joined(separator: " "))\"/>\n"
            s += "<polyline class=\"lazyFree\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\" points=\"\(lazyPoints.joined(separator: " "))\"/>\n"
            s += marks
            s += "</g>\n"
        }
        // Key for the two line styles.
        let rows = (report.contenders.count + columns - 1) / columns
        let ky = yOffset + titleHeight + Double(rows) * cellHeight + 12
        let alertKey = report.memoryLimit != nil || recs.count < report.records.filter({ $0.scenario == scenario.rawValue }).count
        let kx = width / 2 - (alertKey ? 300 : 190)
        s += "<line x1=\"\(f(kx))\" y1=\"\(f(ky))\" x2=\"\(f(kx + 28))\" y2=\"\(f(ky))\" stroke=\"\(keyColour)\" stroke-width=\"2\"/>\n" + text(kx + 34, ky + 4, "RSS (resident)")
        s += "<line x1=\"\(f(kx + 140))\" y1=\"\(f(ky))\" x2=\"\(f(kx + 168))\" y2=\"\(f(ky))\" stroke=\"\(keyColour)\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n" + text(kx + 174, ky + 4, "LazyFree (MADV_FREE'd, still in RSS)")
        if alertKey {
            let lx = kx + 410
            s += "<line x1=\"\(f(lx))\" y1=\"\(f(ky))\" x2=\"\(f(lx + 28))\" y2=\"\(f(ky))\" stroke=\"\(alertColour)\" stroke-dasharray=\"2 2\"/>\n" + text(lx + 34, ky + 4, "memory limit")
            s += "<g stroke=\"\(alertColour)\" stroke-width=\"2\"><line x1=\"\(f(lx + 126))\" y1=\"\(f(ky - 4))\" x2=\"\(f(lx + 134))\" y2=\"\(f(ky + 4))\"/><line x1=\"\(f(lx + 126))\" y1=\"\(f(ky + 4))\" x2=\"\(f(lx + 134))\" y2=\"\(f(ky - 4))\"/></g>\n" + text(lx + 140, ky + 4, "child killed")
        }
        s += "</g>\n"
        return s
    }

    /// The largest font size ≤ `preferred` (and ≥ 8) at which `text` fits `width`, estimated at 0.62 em per
    /// character (0.68 bold) for DejaVu Sans, the widest of the fonts the SVG names.
    static func fittingFontSize(_ text: String, width: Double, preferred: Double, bold: Bool) -> Double {
        let em = bold ? 0.68 : 0.62
        let fit = width / (Double(text.count) * em)
        return max(8, min(preferred, (fit * 2).rounded(.down) / 2))
    }
}
