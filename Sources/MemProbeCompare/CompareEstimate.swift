#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How much memory one `compare-worker` child needs at its peak, to refuse runs that cannot fit.
package enum CompareEstimate {
    /// Peak bytes of the hungriest contender: a `Dictionary` growing to `items` holds its old table (half the
    /// buckets) and its new one (`2^⌈log2(items / 0.75)⌉` buckets of key + value) at once while it rehashes;
    /// the boxed variant adds one malloc chunk (value + 16 B header, 16 B-rounded) per value. Plus 64 MiB for the
    /// process itself and the pressure allocation.
    ///
    /// Every step is overflow-checked: `nil` means the peak exceeds `Int.max` bytes (8 EiB), i.e. no machine
    /// can run it. (An unchecked version trapped at `--items 10^16` and looped for ever at `2^62`, doubling a
    /// bucket count until it wrapped to 0.)
    package static func peakBytes(items: Int, valueSize: Int, pressure: Int? = nil) -> Int? {
        guard items >= 0, valueSize >= 0 else { return nil }
        let stored = CompareValueSize.stored(forRequested: valueSize) ?? valueSize
        // Smallest power of two with buckets × 0.75 ≥ items, i.e. buckets ≥ items × 4 / 3.
        guard let minimumBuckets = checked(items, times: 4).map({ ($0 + 2) / 3 }) else { return nil }
        var buckets = 1
        while buckets < minimumBuckets {
            guard buckets <= Int.max / 2 else { return nil }
            buckets <<= 1
        }
        let tables = buckets + buckets / 2
        let chunk = (valueSize + 16 + 15) / 16 * 16 + 16
        guard let inline = checked(tables, times: stored + 8),
              let boxedTables = checked(tables, times: 16),
              let boxedValues = checked(items, times: chunk),
              let boxed = checked(boxedTables, plus: boxedValues),
              let withPressure = checked(max(inline, boxed), plus: pressure ?? 0)
        else { return nil }
        return checked(withPressure, plus: 64 << 20)
    }

    private static func checked(_ a: Int, times b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    private static func checked(_ a: Int, plus b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    /// `MemAvailable` from `/proc/meminfo`, nil when unreadable.
    package static func memAvailable() -> Int? {
        guard let f = fopen("/proc/meminfo", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("MemAvailable:") {
                let parts = text.split(separator: " ")
                if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
            }
        }
        return nil
    }
}

extension CompareRecord {
    /// The records of a child that died: the ones it measured, then one per remaining phase with `outcome`
    /// and no figures.
    package static func completing(
        _ measured: [CompareRecord], phases: [String], outcome: CompareOutcome, contender: CompareContender,
        scenario: CompareScenario, valueSize: Int, requestedValueSize: Int
    ) -> [CompareRecord] {
        var result = measured
        for phase in phases where !measured.contains(where: { $0.phase == phase }) {
            result.append(CompareRecord(
                contender: contender.rawValue, scenario: scenario.rawValue, phase: phase, outcome: outcome,
                valueSize: valueSize, requestedValueSize: requestedValueSize))
        }
        return result
    }
}
