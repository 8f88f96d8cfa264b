// libFuzzer target for the published-stats file reader (`/dev/shm/memprobe-<uid>/<pid>.stats`, written by another
// process, so hostile input for `memprobe snapshot <pid>`). Build and run with tools/fuzz-parsers.sh; a plain build
// replays the files given as arguments (FuzzDriver).
import FuzzDriver
import MemProbe

/// One input: the reader returns or throws a one-line reason, never traps; what it accepts keeps every invariant
/// the writer guarantees.
let fuzzOne: FuzzCheck = { data, size in
    let bytes = fuzzBytes(data, size)
    do {
        let stats = try PublishedStatsReader.parse(Array(bytes))
        precondition(stats.pid > 0, "accepted pid \(stats.pid)")
        for a in stats.arenas {
            let s = a.stats
            precondition(s.alloc >= 0 && s.alloc <= s.heapInuse, "accepted \(s)")
            precondition(s.heapInuse + s.heapIdle == s.sys, "accepted \(s)")
            precondition(s.heapReleased == s.heapReleasedLazy + s.heapReleasedDiscarded && s.heapReleased <= s.heapIdle)
            precondition(a.name.unicodeScalars.allSatisfy { $0.value >= 0x20 }, "control character in a label")
        }
        if let g = stats.governor {
            precondition(g.releasedBytes >= 0 && g.ticks >= 0 && g.overrunCount >= 0)
            precondition(g.limitBytes.map { $0 >= 0 } ?? true)
        }
    } catch {
        let reason = String(describing: error)
        precondition(!reason.isEmpty && !reason.contains("\n"), "reason \(reason)")
    }
    return 0
}

runFuzzTarget("FuzzPublishedStats", fuzzOne)
