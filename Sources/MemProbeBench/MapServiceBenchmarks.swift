#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbe
import MemProbeCompare
import MemProbeArena
import MemProbeMap
import MemProbeSystem

/// `memprobe-bench map`, issue 13 rows: ArenaMap in a service's conditions, each against `Dictionary` in the same run.
///
/// - Hash cost: Int→Int with ArenaMap's keyed Int hash, the same map with the key wrapped so it goes through
///   `Hasher` (SipHash-1-3, Dictionary's hash), and Dictionary.
/// - String keys (16–32 random bytes of `[a-z0-9]`: heap-allocated strings, the common service key): every operation.
/// - Steady churn: `rounds` × (insert `batch` new 1 KiB values, remove the `batch` oldest), `batch` live at the
///   start: time and peak RSS against the peak live payload, with the default dontNeed arena and with a dirty reserve.
/// - Idle release: `removeAll()` / drop of 1M Int→Int, then no call at all: how long until process RSS is back
///   within 2 MiB of the start (the background drainer), and the same with the drainer off (the old behaviour).
/// - Index shrink: grow to 2M Int→Int, remove down to 667k: index bytes against a fresh map of 667k.
extension MapBenchmarks {
    struct ServiceOptions {
        var hash = true
        var string = true
        var churn = true
        var churnRounds = 100
        var churnBatch = 100_000
        var idle = true
        var shrink = true
    }

    /// Parses one issue-13 option at `arguments[i]`; returns how many arguments it used (0: not ours).
    static func parseServiceOption(_ arguments: [String], _ i: Int, _ o: inout ServiceOptions) -> Int {
        let next = i + 1 < arguments.count ? arguments[i + 1] : ""
        func positive(_ name: String) -> Int {
            guard let v = Int(next), v > 0, v <= 100_000_000 else {
                print("memprobe-bench map: \(name) needs a whole number from 1 to 100000000, got '\(next)'")
                exit(64)
            }
            return v
        }
        switch arguments[i] {
        case "--no-hash": o.hash = false; return 1
        case "--no-string": o.string = false; return 1
        case "--no-churn": o.churn = false; return 1
        case "--no-idle": o.idle = false; return 1
        case "--no-shrink": o.shrink = false; return 1
        case "--churn-rounds": o.churnRounds = positive("--churn-rounds"); return 2
        case "--churn-batch": o.churnBatch = positive("--churn-batch"); return 2
        default: return 0
        }
    }

    static let serviceUsage = "[--no-hash] [--no-string] [--no-churn] [--churn-rounds R] [--churn-batch B] [--no-idle] [--no-shrink]"

    /// Runs the issue-13 workloads that are enabled; returns their goals.
    static func runService(_ keys: Keys, runs: Int, _ o: ServiceOptions) -> [Goal] {
        var goals: [Goal] = []
        if o.hash { goals += hashCostWorkload(keys, runs: runs) }
        if o.string { goals += stringWorkload(count: keys.insert.count, runs: runs) }
        if o.churn { goals += churnWorkload(rounds: o.churnRounds, batch: o.churnBatch, runs: runs) }
        if o.idle { goals += idleReleaseWorkload(entries: keys.insert.count) }
        if o.shrink { goals += indexShrinkWorkload(grown: 2 * keys.insert.count, kept: keys.insert.count * 2 / 3) }
        return goals
    }

    // MARK: Generic timing over any key type

    static let keyedNames = ["insert, no reserve", "insert, reserved", "lookup hit", "lookup miss",
                             "iterate (10 passes)", "remove", "remove absent"]

    /// ns/op of every operation for ArenaMap<K, Int> (`arena`) and [K: Int], best of `runs`, maps alternating.
    /// Inlined so each call site is specialized for its key type (unspecialized generic code cost 2–6×).
    @inline(__always)
    static func timeKeyed<K: Hashable>(
        insert: [K], lookup: [K], miss: [K], remove: [K], runs: Int, arena: PageArena, measureKey: (K) -> Int
    ) -> (arena: [Double], dictionary: [Double]) {
        let n = insert.count
        let passes = 10
        var bestA = [Double](repeating: .infinity, count: keyedNames.count)
        var bestD = bestA
        var sink = 0
        for _ in 0..<runs {
            do {
                var t = [Double](repeating: 0, count: keyedNames.count)
                var m = ArenaMap<K, Int>(arena: arena)
                t[0] = time { for (i, k) in insert.enumerated() { m[k] = i } }
                m = ArenaMap(arena: arena)
                settle(arena)
                var r = ArenaMap<K, Int>(arena: arena, minimumCapacity: n)
                t[1] = time { for (i, k) in insert.enumerated() { r[k] = i } }
                t[2] = time { var acc = 0; for k in lookup { acc &+= r[k]! }; sink &+= acc }
                t[3] = time { var acc = 0; for k in miss { acc &+= r[k] ?? 1 }; sink &+= acc }
                t[4] = time { var acc = 0; for _ in 0..<passes { for (k, v) in r { acc &+= v &+ measureKey(k) } }; sink &+= acc }
                t[6] = time { var acc = 0; for k in miss { acc &+= r.removeValue(forKey: k) ?? 1 }; sink &+= acc }
                t[5] = time { var acc = 0; for k in remove { acc &+= r.removeValue(forKey: k)! }; sink &+= acc }
                precondition(r.isEmpty && m.isEmpty)
                for j in t.indices { bestA[j] = min(bestA[j], t[j]) }
            }
            settle(arena)
            do {
                var t = [Double](repeating: 0, count: keyedNames.count)
                var d: [K: Int] = [:]
                t[0] = time { for (i, k) in insert.enumerated() { d[k] = i } }
                d = [:]
                var r = [K: Int](minimumCapacity: n)
                t[1] = time { for (i, k) in insert.enumerated() { r[k] = i } }
                t[2] = time { var acc = 0; for k in lookup { acc &+= r[k]! }; sink &+= acc }
                t[3] = time { var acc = 0; for k in miss { acc &+= r[k] ?? 1 }; sink &+= acc }
                t[4] = time { var acc = 0; for _ in 0..<passes { for (k, v) in r { acc &+= v &+ measureKey(k) } }; sink &+= acc }
                t[6] = time { var acc = 0; for k in miss { acc &+= r.removeValue(forKey: k) ?? 1 }; sink &+= acc }
                t[5] = time { var acc = 0; for k in remove { acc &+= r.removeValue(forKey: k)! }; sink &+= acc }
                precondition(r.isEmpty && d.isEmpty)
                for j in t.indices { bestD[j] = min(bestD[j], t[j]) }
            }
        }
        if sink == 42 { print("") }
        bestA[4] /= Double(passes)
        bestD[4] /= Double(passes)
        return (bestA.map { $0 / Double(n) }, bestD.map { $0 / Double(n) })
    }

    // MARK: Hash cost

    /// An Int key that takes the generic path: `Hasher` (SipHash-1-3), as Dictionary hashes Int.
    struct SipHashedInt: Hashable {
        var value: Int
        // Exactly Int's own hashing (Hasher's one-word SipHash-1-3 fast path), which Dictionary<Int, _> uses.
        func hash(into hasher: inout Hasher) { value.hash(into: &hasher) }
        func _rawHashValue(seed: Int) -> Int { value._rawHashValue(seed: seed) }
    }

    static func hashCostWorkload(_ keys: Keys, runs: Int) -> [Goal] {
        let arena = makeArena()
        let keyed = timeKeyed(insert: keys.insert, lookup: keys.lookup, miss: keys.miss, remove: keys.remove,
                              runs: runs, arena: arena, measureKey: { $0 })
        let wrap = { (a: [Int]) in a.map { SipHashedInt(value: $0) } }
        let sip = timeKeyed(insert: wrap(keys.insert), lookup: wrap(keys.lookup), miss: wrap(keys.miss),
                            remove: wrap(keys.remove), runs: runs, arena: arena, measureKey: { $0.value })
        print("\n## Hash cost, Int → Int (ns/op, best run): ArenaMap's keyed Int hash vs the same map hashing through Hasher (SipHash-1-3)\n")
        print("| operation | ArenaMap, keyed Int hash | ArenaMap, Hasher/SipHash key | Dictionary<Int, Int> | Dictionary, wrapped key | keyed ÷ Dictionary | SipHash ÷ Dictionary |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for j in keyedNames.indices {
            print("| \(keyedNames[j]) | \(Fmt.fixed1(keyed.arena[j])) | \(Fmt.fixed1(sip.arena[j])) | \(Fmt.fixed1(keyed.dictionary[j])) | \(Fmt.fixed1(sip.dictionary[j])) | \(format(keyed.arena[j] / keyed.dictionary[j], "×")) | \(format(sip.arena[j] / keyed.dictionary[j], "×")) |")
        }
        return []
    }

    // MARK: String keys

    /// `count` distinct random strings of 16–32 ASCII letters and digits (never small-string inline: > 15 bytes).
    static func randomStrings(_ count: Int, seed: UInt64, excluding: Set<String> = []) -> [String] {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var rng = SplitMix64(seed: seed)
        var seen = Set<String>(minimumCapacity: count)
        var out: [String] = []
        out.reserveCapacity(count)
        while out.count < count {
            let length = Int.random(in: 16...32, using: &rng)
            let bytes = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            let s = String(decoding: bytes, as: UTF8.self)
            if !excluding.contains(s) && seen.insert(s).inserted { out.append(s) }
        }
        return out
    }

    static func stringWorkload(count n: Int, runs: Int) -> [Goal] {
        let insert = randomStrings(n, seed: 7)
        let miss = randomStrings(n, seed: 8, excluding: Set(insert))
        var rng = SplitMix64(seed: 43)
        let lookup = insert.shuffled(using: &rng)
        let remove = insert.shuffled(using: &rng)
        let arena = makeArena()
        let r = timeKeyed(insert: insert, lookup: lookup, miss: miss, remove: remove, runs: runs, arena: arena,
                          measureKey: { $0.utf8.count })
        print("\n## Time per operation, String (16–32 bytes) → Int, \(n) entries (ns/op, best run)\n")
        print("| operation | ArenaMap | Dictionary | ratio |")
        print("|---|---:|---:|---:|")
        var goals: [Goal] = []
        for j in keyedNames.indices {
            let ratio = r.arena[j] / r.dictionary[j]
            print("| \(keyedNames[j]) | \(Fmt.fixed1(r.arena[j])) | \(Fmt.fixed1(r.dictionary[j])) | \(format(ratio, "×")) |")
            goals.append(Goal(name: "String→Int \(keyedNames[j]) ≤ 1.0× Dictionary", measured: ratio, limit: 1.0, unit: "×"))
        }
        return goals
    }

    // MARK: Steady churn

    /// `rounds` × (insert `batch` new 1 KiB values, remove the `batch` oldest), starting with `batch` live.
    static func churnWorkload(rounds: Int, batch: Int, runs: Int) -> [Goal] {
        let total = (rounds + 1) * batch
        let keys = (0..<total).map { Keys.mix(UInt64($0) &+ 0x5151_0000_0000) }
        let payloadPeak = 2 * batch * 1024
        let reserveWindow = Duration.milliseconds(200)
        struct Result { var seconds = Double.infinity; var peakRss = 0; var endRss = 0; var madviseBytes = 0 }
        /// Runs the churn on `map` (any map type through closures); returns time, peak RSS over the start, RSS at the end.
        func churn(insert: (Int) -> Void, remove: (Int) -> Void) -> Result {
            let rss0 = residentBytes()
            for i in 0..<batch { insert(keys[i]) }
            var peak = 0
            let t = time {
                for r in 1...rounds {
                    for i in (r * batch)..<((r + 1) * batch) { insert(keys[i]) }
                    peak = max(peak, residentBytes() - rss0)
                    for i in ((r - 1) * batch)..<(r * batch) { remove(keys[i]) }
                }
            }
            return Result(seconds: t / 1e9, peakRss: peak, endRss: residentBytes() - rss0)
        }
        var results: [String: Result] = [:]
        func keep(_ name: String, _ r: Result) {
            if r.seconds < results[name, default: Result()].seconds { results[name] = r }
        }
        for _ in 0..<runs {
            for variant in ["ArenaMap, dontNeed", "ArenaMap, dontNeed + reserve"] {
                var configuration = PageArena.Configuration(hugePages: hugePages)
                if variant.hasSuffix("reserve") { configuration.dirtyReserveWindow = reserveWindow }
                let arena = PageArena(strategy: .dontNeed, configuration: configuration)
                var m = ArenaMap<Int, KiB>(arena: arena)
                let m0 = arena.stats.madviseBytes
                var r = churn(insert: { m[$0] = KiB($0) }, remove: { m[$0] = nil })
                r.madviseBytes = arena.stats.madviseBytes - m0
                keep(variant, r)
                m = ArenaMap(arena: arena)
                _ = try? arena.release()
            }
            var d: [Int: KiB] = [:]
            keep("Dictionary", churn(insert: { d[$0] = KiB($0) }, remove: { d[$0] = nil }))
            d = [:]
        }
        let dict = results["Dictionary"]!
        print("\n## Steady churn, Int → 1 KiB: \(rounds) rounds × (insert \(batch) new, remove the \(batch) oldest), \(batch)–\(2 * batch) live (best of \(runs))\n")
        print("Peak live payload \(mib(payloadPeak)); RSS figures are the process's over its value before the map was built; reserve window \(reserveWindow).\n")
        print("| map | time | ÷ Dictionary | peak RSS | peak RSS ÷ peak live payload | RSS at the end | madvise'd |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        var goals: [Goal] = []
        for name in ["ArenaMap, dontNeed", "ArenaMap, dontNeed + reserve", "Dictionary"] {
            let r = results[name]!
            let ratio = r.seconds / dict.seconds
            let rssRatio = Double(r.peakRss) / Double(payloadPeak)
            print("| \(name) | \(Fmt.fixed2(r.seconds)) s | \(format(ratio, "×")) | \(mib(r.peakRss)) | \(format(rssRatio, "×")) | \(mib(r.endRss)) | \(name == "Dictionary" ? "–" : mib(r.madviseBytes)) |")
            if name != "Dictionary" {
                goals.append(Goal(name: "churn time, \(name), ≤ 1.0× Dictionary", measured: ratio, limit: 1.0, unit: "×"))
                goals.append(Goal(name: "churn peak RSS, \(name), ≤ 1.2× peak live payload", measured: rssRatio, limit: 1.2, unit: "×"))
            }
        }
        return goals
    }

    // MARK: Idle release

    /// Empties (removeAll, then drop) a map of `entries` Int→Int and waits, making no call, until process RSS is
    /// within 2 MiB of its value before the map was built; with the background drainer on and off.
    static func idleReleaseWorkload(entries n: Int) -> [Goal] {
        print("\n## Idle release: \(n) Int → Int emptied, then no call into the arena or map\n")
        print("| how emptied | drainer | caller's pause | RSS over start right after | after 50 ms | after 1 s | time to ≤ start + 2 MiB |")
        print("|---|---|---:|---:|---:|---:|---:|")
        var goals: [Goal] = []
        for background in [true, false] {
            for how in ["removeAll()", "drop"] {
                var configuration = PageArena.Configuration(hugePages: hugePages)
                configuration.backgroundRelease = background
                let arena = PageArena(strategy: .dontNeed, configuration: configuration)
                // Warm-up so code pages and the arena's first region bookkeeping are resident before the baseline.
                do { var w = ArenaMap<Int, Int>(arena: arena); for i in 0..<20_000 { w[i] = i } }
                _ = try? arena.release()
                let rss0 = residentBytes()
                var m: ArenaMap<Int, Int>? = ArenaMap<Int, Int>(arena: arena)
                for i in 0..<n { m![i] = i }
                let pause = time { if how == "drop" { m = nil } else { m!.removeAll() } }
                let t0 = monotonicNanoseconds()
                let right = residentBytes() - rss0
                var at50: Int? = nil, at1s = 0
                var reached: Double? = nil
                while true {
                    let elapsed = monotonicNanoseconds() - t0
                    let now = residentBytes() - rss0
                    if reached == nil && now <= 2 << 20 { reached = Double(elapsed) / 1e6 }
                    if elapsed >= 50_000_000 && at50 == nil { at50 = now }
                    if elapsed >= 1_000_000_000 { at1s = now; break }
                    var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                    nanosleep(&ts, nil)
                }
                print("| \(how) | \(background ? "on" : "off") | \(Fmt.fixed2(pause / 1e6)) ms | \(mib(right)) | \(mib(at50 ?? 0)) | \(mib(at1s)) | \(reached.map { Fmt.fixed1($0) + " ms" } ?? "not within 1 s") |")
                if background {
                    goals.append(Goal(name: "RSS 1 s after \(how) of \(n) Int→Int, no call − start", measured: Double(at1s) / Double(1 << 20), limit: 2, unit: "MiB"))
                }
                withExtendedLifetime(m) {}
            }
        }
        return goals
    }

    // MARK: Index shrink

    static func indexShrinkWorkload(grown: Int, kept: Int) -> [Goal] {
        let arena = makeArena()
        var m = ArenaMap<Int, Int>(arena: arena)
        for i in 0..<grown { m[i] = i }
        let grownSlots = m.memoryStats.tableCapacity
        for i in kept..<grown { m[i] = nil }
        let rightAfter = m.memoryStats.tableCapacity
        var steps = 0
        while m.memoryStats.isResizing { m[steps % kept] = steps; steps += 1 }
        let stable = m.memoryStats.tableCapacity
        var f = ArenaMap<Int, Int>(arena: arena)
        for i in 0..<kept { f[i] = i }
        let fresh = f.memoryStats.tableCapacity
        print("\n## Index shrink: grown to \(grown) Int → Int, removed down to \(kept)\n")
        print("| figure | index slots | index bytes |")
        print("|---|---:|---:|")
        print("| at \(grown) entries | \(grownSlots) | \(mib(grownSlots * 8)) |")
        print("| right after removing to \(kept) (old + new table while migrating) | \(rightAfter) | \(mib(rightAfter * 8)) |")
        print("| after \(steps) more mutations (stable) | \(stable) | \(mib(stable * 8)) |")
        print("| fresh map of \(kept) | \(fresh) | \(mib(fresh * 8)) |")
        return [Goal(name: "index of a stable shrunken map ÷ a fresh map's (\(kept) entries)", measured: Double(stable) / Double(fresh), limit: 2, unit: "×")]
    }
}
