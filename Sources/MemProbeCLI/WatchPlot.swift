import MemProbe
import MemProbeCompare

/// `memprobe watch --plot FILE.svg`: the recorded time series, one panel per watched process (all panels on the
/// same time and byte scales), one line per figure, limits as dashed horizontal lines, phase markers as vertical
/// dotted lines. Plain SVG 1.1 (no script, no external font).
enum WatchPlot: SVGChart {
    /// A figure drawn as a line: its name in the key, its colour, how to read it from a sample.
    struct Figure: Sendable {
        var name: String
        var colour: String
        var width = 1.8
        var dashed = false
        var value: @Sendable (WatchSample) -> Int?

        var dashAttribute: String { dashed ? " stroke-dasharray=\"6,3\"" : "" }
    }

    /// The points of `value` over `samples`, split where a sample lacks it.
    static func runs(
        _ samples: [WatchSample], _ value: (WatchSample) -> Int?, x: (Double) -> Double, y: (Int) -> Double
    ) -> [[String]] {
        var runs: [[String]] = [[]]
        for sample in samples {
            if let v = value(sample) {
                runs[runs.count - 1].append("\(f(x(sample.t))),\(f(y(v)))")
            } else if !runs[runs.count - 1].isEmpty {
                runs.append([])
            }
        }
        return runs.filter { !$0.isEmpty }
    }

    static let figures: [Figure] = [
        // RSS wide and RSS − LazyFree dashed on top: both stay visible where they coincide.
        Figure(name: "RSS", colour: "#4e79a7", width: 3.5) { $0.rss },
        Figure(name: "RSS − LazyFree", colour: "#f28e2b", dashed: true) { $0.effectiveRss },
        // Only for a process in a limited cgroup: a shared unlimited cgroup's working set is other processes' memory.
        Figure(name: "cgroup working set", colour: "#b07aa1") { $0.cgroupLimit != nil ? $0.cgroupWorkingSet : nil },
        Figure(name: "arena HeapInuse", colour: "#59a14f") { $0.arenaHeapInuse },
        Figure(name: "arena Alloc", colour: "#e15759") { $0.arenaAlloc },
    ]
    static let limits: [Figure] = [
        Figure(name: "governor limit", colour: "#9c2f2f") { $0.governorLimit },
        Figure(name: "cgroup limit", colour: "#2f2f2f") { $0.cgroupLimit },
    ]

    /// One panel per process of the given records (a record may hold several processes), in order.
    static func svg(records: [WatchRecord], title: String?) -> String {
        var panels: [(label: String, samples: [WatchSample], marks: [WatchMark])] = []
        for r in records {
            var order: [Int32] = []
            var byPid: [Int32: [WatchSample]] = [:]
            for s in r.samples {
                if byPid[s.pid] == nil { order.append(s.pid) }
                byPid[s.pid, default: []].append(s)
            }
            for pid in order { panels.append((byPid[pid]![0].label, byPid[pid]!, r.marks)) }
        }
        let width = 960.0, panelHeight = 300.0, top = title == nil ? 10.0 : 40.0, keyHeight = 34.0
        let height = top + Double(max(1, panels.count)) * panelHeight + keyHeight
        let allSamples = panels.flatMap(\.samples)
        // The time axis covers every sample and mark; the byte axis every figure and limit (same scale everywhere).
        let tMax = max(1, (allSamples.map(\.t) + panels.flatMap { $0.marks.map(\.t) }).max() ?? 1)
        let vMax = max(1 << 20, allSamples.flatMap { s in (figures + limits).compactMap { $0.value(s) } }.max() ?? 1)
        let (unit, unitName) = byteUnit(for: vMax, smallest: 1 << 20)
        let yAxis = SVGAxis(max: Double(vMax) / unit, divisions: 4), yTop = yAxis.top
        let tAxis = SVGAxis(max: tMax, divisions: 8), tTop = tAxis.top

        var s = svgHeader(width: width, height: height)
        if let title { s += text(width / 2, 26, title, anchor: "middle", extra: " font-size=\"15\" font-weight=\"bold\"") }
        let left = 70.0, right = 20.0, plotTop = 28.0, bottom = 44.0
        let plotW = width - left - right, plotH = panelHeight - plotTop - bottom
        for (pi, panel) in panels.enumerated() {
            let y0 = top + Double(pi) * panelHeight + plotTop
            func x(_ t: Double) -> Double { left + t / tTop * plotW }
            func y(_ v: Int) -> Double { y0 + plotH - Double(v) / unit / yTop * plotH }
            s += "<g class=\"panel\" data-label=\"\(escape(panel.label))\">\n"
            s += text(left, y0 - 10, panel.label + " (pid \(panel.samples[0].pid))", extra: " font-size=\"13\" font-weight=\"bold\"")
            // Grid and axes.
            for v in yAxis.ticks {
                let yy = y0 + plotH - v / yTop * plotH
                s += "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(left + plotW))\" y2=\"\(f(yy))\" stroke=\"#e6e6e6\"/>\n"
                s += text(left - 6, yy + 4, "\(trimmed(v)) \(unitName)", anchor: "end")
            }
            for t in tAxis.ticks {
                let xx = left + t / tTop * plotW
                s += "<line x1=\"\(f(xx))\" y1=\"\(f(y0 + plotH))\" x2=\"\(f(xx))\" y2=\"\(f(y0 + plotH + 4))\" stroke=\"#444\"/>\n"
                s += text(xx, y0 + plotH + 16, "\(trimmed(t)) s", anchor: "middle")
            }
            s += "<rect x=\"\(f(left))\" y=\"\(f(y0))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#444\"/>\n"
            s += text(left + plotW / 2, y0 + plotH + 32, "time since the watch started (s)", anchor: "middle")
            // Phase markers; labels on three staggered rows so close markers stay readable.
            for (mi, m) in panel.marks.enumerated() where m.t >= -1 && m.t <= tTop {
                let xx = x(max(0, m.t))  // a mark written just before the watch started sits at 0
                s += "<line class=\"mark\" x1=\"\(f(xx))\" y1=\"\(f(y0))\" x2=\"\(f(xx))\" y2=\"\(f(y0 + plotH))\" stroke=\"#888\" stroke-dasharray=\"2,3\"/>\n"
                s += text(xx + 3, y0 + 11 + Double(mi % 3) * 11, m.mark, extra: " fill=\"#555\" font-size=\"10\"")
            }
            // Limits: dashed lines over the time they were in force (a limit can be set or changed mid-watch).
            for l in limits {
                for run in runs(panel.samples, l.value, x: x, y: y) {
                    s += "<polyline class=\"limit\" data-figure=\"\(escape(l.name))\" fill=\"none\" stroke=\"\(l.colour)\" stroke-width=\"1.5\" stroke-dasharray=\"8,4\" points=\"\(run.joined(separator: " "))\"/>\n"
                }
                if let last = panel.samples.last(where: { l.value($0) != nil }), let value = l.value(last) {
                    s += text(min(x(last.t), left + plotW) - 4, y(value) - 4, "\(l.name) \(ByteFormat.human(value))", anchor: "end", extra: " fill=\"\(l.colour)\"")
                }
            }
            // One polyline per figure; a sample without the figure breaks the line.
            for fig in figures {
                for run in runs(panel.samples, fig.value, x: x, y: y) {
                    s += "<polyline class=\"series\" data-figure=\"\(escape(fig.name))\" fill=\"none\" stroke=\"\(fig.colour)\" stroke-width=\"\(fig.width)\"\(fig.dashAttribute) points=\"\(run.joined(separator: " "))\"/>\n"
                }
            }
            s += "</g>\n"
        }
        // Key.
        var kx = left
        let ky = height - keyHeight + 20
        for fig in figures {
            s += "<line x1=\"\(f(kx))\" y1=\"\(f(ky - 4))\" x2=\"\(f(kx + 22))\" y2=\"\(f(ky - 4))\" stroke=\"\(fig.colour)\" stroke-width=\"\(fig.width)\"\(fig.dashAttribute)/>\n"
            s += text(kx + 26, ky, fig.name)
            kx += 34 + Double(fig.name.count) * 6.2
        }
        for l in limits {
            s += "<line x1=\"\(f(kx))\" y1=\"\(f(ky - 4))\" x2=\"\(f(kx + 22))\" y2=\"\(f(ky - 4))\" stroke=\"\(l.colour)\" stroke-width=\"1.5\" stroke-dasharray=\"8,4\"/>\n"
            s += text(kx + 26, ky, l.name)
            kx += 34 + Double(l.name.count) * 6.2
        }
        s += "</svg>\n"
        return s
    }
}
