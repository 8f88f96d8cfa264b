import ArgumentParser
import MemProbeSystem

/// Process IDs named on the command line, parsed the same way by every command that takes them (snapshot, watch,
/// profile -o).
///
/// Commands take them as strings (`@Argument(parsing: .allUnrecognized)`), not `Int32`: ArgumentParser would read
/// "-1" as an unknown option and then complain that no process ID was given; parsed here, "-1" is named as the bad
/// process ID it is, and so are "0" and "99999999999999999999" (no trap, no silent wrap).
enum ProcessIDArguments {
    /// `text` as a process ID: a whole number from 1 to `Int32.max`.
    static func parse(_ text: String) throws(ValidationError) -> Int32 {
        guard let pid = Int32(text), pid > 0 else {
            throw ValidationError("'\(text)' is not a process ID (must be a whole number from 1 to \(Int32.max)).")
        }
        return pid
    }

    /// Every text as a process ID, in the order given, repeats kept (for a caller that pairs them with other
    /// positional values). An argument starting with `--` is an option ArgumentParser did not know.
    static func parseEach(_ texts: [String]) throws(ValidationError) -> [Int32] {
        var result: [Int32] = []
        for text in texts {
            if text.hasPrefix("--") { throw ValidationError("Unknown option '\(text)'.") }
            result.append(try parse(text))
        }
        return result
    }

    /// Every text as a process ID, in the order given, each once (a repeated pid would be read and shown twice:
    /// duplicate Prometheus series, two rows per sample).
    static func parseList(_ texts: [String]) throws(ValidationError) -> [Int32] {
        var seen = Set<Int32>()
        return try parseEach(texts).filter { seen.insert($0).inserted }
    }

    /// Why `pid` cannot be used as a process: it is a thread of another process (reading /proc/<tid> would show that
    /// process under the wrong number). nil for a process, and for a task that does not exist (the caller's read
    /// reports that).
    static func notAProcess(_ pid: Int32) -> String? {
        guard let process = ThreadGroup.processID(ofTask: pid), process != pid else { return nil }
        return "\(pid) is a thread of process \(process), not a process; give \(process)"
    }
}

/// Times on the command line (`--interval`, `--duration`, `--timeout`), parsed the same way everywhere.
enum TimeArgument {
    /// `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"1d"` or plain seconds; nil when malformed, negative or not finite.
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var number = Substring(text)
        var scale = 1.0
        for (suffix, s) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = s
            break
        }
        // Decimal digits and one point only: no sign, exponent, hex, "inf" or "nan".
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              number.filter({ $0 == "." }).count <= 1, let v = Double(number), v.isFinite
        else { return nil }
        let seconds = v * scale
        return seconds.isFinite ? seconds : nil
    }
}
