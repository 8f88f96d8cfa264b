/// JSON string literals without Foundation (this module is linked by services): the profile's `--format json`
/// report and memprobe-bench's JSON collector both write strings through ``quoted(_:)``.
package enum JSONText {
    /// `s` as a JSON string literal, quotes included: `"` and `\` escaped, newline, carriage return and tab as
    /// `\n`, `\r`, `\t`, every other control character as `\u00XX`; everything else as it is (UTF-8).
    package static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
