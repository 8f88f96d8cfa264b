/// Human-readable byte counts in binary units (B, KiB, MiB, GiB, TiB, PiB, EiB), as the tables print them.
public enum ByteFormat {
    /// Formats `bytes` with one decimal above KiB, e.g. `1.9 GiB`, `512 KiB`, `-3.0 MiB`.
    public static func human(_ bytes: Int) -> String {
        let sign = bytes < 0 ? "-" : ""
        let magnitude = bytes.magnitude
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        if magnitude < 1024 { return "\(sign)\(magnitude) B" }
        var value = Double(magnitude)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return "\(sign)\(oneDecimal(value)) \(units[unit])"
    }

    /// Formats an optional byte count, printing `—` for a figure that could not be read.
    public static func human(_ bytes: Int?) -> String {
        bytes.map { human($0) } ?? "—"
    }

    package static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// Parses a size such as `700M`, `700MiB`, `1.5G`, `4096`, `64k` into bytes (binary units).
    /// Returns nil for anything malformed, negative or empty.
    public static func parse(_ text: String) -> Int? {
        let s = text.trimmingSpaces.lowercased()
        guard !s.isEmpty else { return nil }
        var numberPart = Substring(s)
        var suffix = ""
        while let last = numberPart.last, last.isLetter {
            suffix = String(last) + suffix
            numberPart = numberPart.dropLast()
        }
        let k = 1024.0
        let multipliers: [String: Double] = [
            "": 1, "b": 1, "k": k, "kb": k, "kib": k, "m": k * k, "mb": k * k, "mib": k * k,
            "g": k * k * k, "gb": k * k * k, "gib": k * k * k, "t": k * k * k * k, "tb": k * k * k * k, "tib": k * k * k * k,
        ]
        guard let multiplier = multipliers[suffix], !numberPart.isEmpty,
              numberPart.allSatisfy({ $0.isNumber || $0 == "." }),
              numberPart.filter({ $0 == "." }).count <= 1,
              let value = Double(numberPart), value.isFinite, value >= 0
        else { return nil }
        let bytes = value * multiplier
        guard bytes < 9.0e18 else { return nil }
        return Int(bytes.rounded())
    }
}

extension String {
    package var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
