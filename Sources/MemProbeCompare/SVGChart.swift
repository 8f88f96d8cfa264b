/// The primitives both SVG charts draw with (`compare --plot`'s ``ComparePlot`` and `watch --plot`'s chart in the
/// CLI): the document's opening, coordinates and axis values as text, `<text>` elements and XML escaping. A chart
/// conforms and calls them unqualified (`f(x)`, `text(…)`); its layout, colours and what it draws stay its own.
/// Value axes are ``SVGAxis``.
package protocol SVGChart {}

extension SVGChart {
    /// The opening of a plain SVG 1.1 document (no script, no external font) of `width` × `height` on white; the
    /// chart appends its elements and `</svg>\n`.
    package static func svgHeader(width: Double, height: Double) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>

        """
    }

    /// A coordinate or length as an attribute value, rounded to a tenth.
    package static func f(_ v: Double) -> String { String(Double((v * 10).rounded()) / 10) }

    /// An axis value: a whole number without a decimal point, else rounded to hundredths.
    package static func trimmed(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(Double((v * 100).rounded()) / 100)
    }

    /// A `<text>` element at (`x`, `y`) holding `s` (escaped); `extra` is appended to its attributes (starts with a
    /// space).
    package static func text(_ x: Double, _ y: Double, _ s: String, anchor: String = "start", extra: String = "") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\"\(extra)>\(escape(s))</text>\n"
    }

    /// `s` as XML character data or an attribute value.
    package static func escape(_ s: String) -> String {
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

    /// The unit of a byte axis whose largest value is `maxBytes`: GiB from 2 GiB, MiB from 2 MiB, else KiB — but
    /// never smaller than `smallest` (1 KiB, 1 MiB or 1 GiB).
    package static func byteUnit(for maxBytes: Int, smallest: Int = 1 << 10) -> (bytes: Double, name: String) {
        for (bytes, name) in [(1 << 30, "GiB"), (1 << 20, "MiB")] where maxBytes >= 2 * bytes || smallest >= bytes {
            return (Double(bytes), name)
        }
        return (1024.0, "KiB")
    }
}

/// A value axis from 0 to ``top``, the first multiple of ``step`` at or above the largest value, in about
/// `divisions` steps of 1, 2, 2.5 or 5 × a power of ten.
package struct SVGAxis: Sendable {
    package var step: Double
    package var top: Double

    package init(max: Double, divisions: Double) {
        step = Self.niceStep(max / divisions)
        top = (max / step).rounded(.up) * step
    }

    /// The values of the ticks and grid lines: 0, `step`, … up to `top`.
    package var ticks: [Double] {
        var out: [Double] = []
        var v = 0.0
        while v <= top + step / 2 {
            out.append(v)
            v += step
        }
        return out
    }

    /// 1, 2, 2.5 or 5 × a power of ten, at least `raw`.
    package static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        for m in [1.0, 2.0, 2.5, 5.0, 10.0] where magnitude * m >= raw { return magnitude * m }
        return magnitude * 10
    }
}
