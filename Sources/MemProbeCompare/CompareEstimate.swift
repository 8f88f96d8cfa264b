#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How much memory one `compare-worker` child needs at its peak, to refuse runs that cannot fit.
package enum CompareEstimate {
    /// Peak bytes of the hungriest contender: a `Dictionary` growing to `items` holds its old table (half the
    /// buckets) and its new one (`2^⌈log2(items / 0.75)⌉` buckets of key + value) at once while it rehashes;
    /// the boxed variant adds one malloc chunk (value + 16 B header, 16 B-rounded) per value. Plus 64 MiB for the
    /// process itself and the pressure allocation.
    package static func peakBytes(items: Int, valueSize: Int, pressure: Int? = nil) -> Int {
        let stored = CompareValueSize.stored(forRequested: valueSize) ?? valueSize
        var buckets = 1
        while Double(buckets) * 0.75 < Double(items) { buckets <<= 1 }
        let inline = (buckets + buckets / 2) * (stored + 8)
        let boxed = (buckets + buckets / 2) * 16 + items * ((valueSize + 16 + 15) / 16 * 16 + 16)
        return max(inline, boxed) + (pressure ?? 0) + (64 << 20)
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
