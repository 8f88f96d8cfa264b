/// A plain-text table with aligned columns, for terminal output.
package struct TextTable: Sendable {
    /// Column alignment.
    package enum Alignment: Sendable { case left, right }

    package var headers: [String]
    package var alignments: [Alignment]
    package var rows: [[String]] = []

    /// Creates a table with `headers`; columns default to left-aligned for the first, right-aligned for the rest.
    package init(headers: [String], alignments: [Alignment]? = nil) {
        self.headers = headers
        self.alignments = alignments ?? headers.indices.map { $0 == 0 ? .left : .right }
    }

    /// Appends a row; missing cells print empty.
    package mutating func append(_ row: [String]) { rows.append(row) }

    /// Appends a full-width section line (printed as-is between rows).
    package mutating func appendSection(_ title: String) { rows.append(["\u{1}" + title]) }

    /// Renders the table with a header rule.
    package func render() -> String {
        var widths = headers.map { $0.count }
        for row in rows where !(row.first?.hasPrefix("\u{1}") ?? false) {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var out: [String] = []
            for i in widths.indices {
                let cell = i < cells.count ? cells[i] : ""
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                out.append(alignments[i] == .left ? cell + pad : pad + cell)
            }
            var s = out.joined(separator: "  ")
            while s.last == " " { s.removeLast() }
            return s
        }
        var lines = [line(headers), widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")]
        for row in rows {
            if let first = row.first, first.hasPrefix("\u{1}") { lines.append(String(first.dropFirst())) } else { lines.append(line(row)) }
        }
        return lines.joined(separator: "\n")
    }
}
