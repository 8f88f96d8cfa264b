#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CShims
import MemProbe
import MemProbeCompare
import MemProbeArena
import MemProbeMap
import MemProbeSystem

/// `memprobe-bench map`: ArenaMap against `Dictionary` in the same run (issue 4's goals).
///
/// Workloads: N entries (default 1,000,000) with distinct pseudo-random Int keys; values `Int` and a 1 KiB struct;
/// insert without and with reserve, lookup hit and miss (keys in an order unrelated to insertion order, so neither
/// side gets cache locality for free), iterate, remove. Each timing is the best of `--runs` fresh runs.
/// Then memory (peak HeapInuse vs payload, pages held and RSS after removing all but 100, after drop) and the
/// latency of every single insert while growing to N and every remove while draining to 0.
enum MapBenchmarks {
    struct Options {
        var entries = 1_000_000
        var runs = 3
        var kib = true
        var latency = true
        var memory = true
        var hugePages = false
        /// Issue 13's rows (MapServiceBenchmarks.swift).
        var service = ServiceOptions()
    }

    /// The arena every ArenaMap of this run uses (a fresh one per workload).
    nonisolated(unsafe) static var hugePages = false
    static func makeArena() -> PageArena {
        PageArena(strategy: .dontNeed, configuration: .init(hugePages: hugePages))
    }

    static func run(_ arguments: [String]) {
        var o = Options()
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            let next = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch a {
            case "--entries": o.entries = Int(next) ?? o.entries; i += 1
            case "--runs": o.runs = max(1, Int(next) ?? o.runs); i += 1
            case "--no-kib": o.kib = false
            case "--no-latency": o.latency = false
            case "--no-memory": o.memory = false
            case "--huge-pages": o.hugePages = true
            case _ where BenchJSON.parseFormat(arguments, at: &i): break
            case "-h", "--help":
                print("usage: memprobe-bench map [--entries N] [--runs R] [--no-kib] [--no-latency] [--no-memory] [--huge-pages] [--format text|json] \(serviceUsage)")
                return
            default:
                let used = parseServiceOption(arguments, i, &o.service)
                if used == 0 {
                    print("memprobe-bench map: unknown option \(a)")
                    exit(64)
                }
                i += used - 1
            }
            i += 1
        }
        hugePages = o.hugePages
        BenchJSON.begin(benchmark: "map")
        defer { BenchJSON.finish() }
        BenchJSON.value("entries", .int(o.entries))
        BenchJSON.value("runs", .int(o.runs))
        BenchJSON.value("hugePages", .bool(o.hugePages))
        print("# memprobe-bench map — ArenaMap vs Dictionary, \(o.entries) entries, best of \(o.runs) runs")
        print("ArenaMap arenas: PageArena(strategy: .dontNeed, configuration: .init(hugePages: \(o.hugePages)))")
        print("pid \(getpid()), page size \(VirtualMemory.pageSize), entry strides: Int→Int \(MemoryLayout<(Int, Int)>.stride) B, Int→KiB \(MemoryLayout<(Int, KiB)>.stride) B\n")
        let keys = Keys(count: o.entries)
        var goals: [Goal] = []

        if o.memory { goals += memoryWorkload(keys) }

        let intRows = timeWorkloads(keys, runs: o.runs, value: { $0 }, read: { $0 })
        printTable("Int → Int", intRows)
        for r in intRows {
            goals.append(Goal(name: "Int→Int \(r.name) ≤ 0.8× Dictionary", measured: r.ratio, limit: 0.8, unit: "×"))
        }
        if o.kib {
            let kibRows = timeWorkloads(keys, runs: o.runs, value: { KiB($0) }, read: { $0.first &+ $0.last })
            printTable("Int → 1 KiB struct", kibRows)
            for r in kibRows {
                switch r.name {
                case "insert, no reserve":
                    goals.append(Goal(name: "Int→KiB insert without reserve ≤ 0.25× Dictionary", measured: r.ratio, limit: 0.25, unit: "×"))
                case "lookup hit", "lookup miss", "remove":
                    goals.append(Goal(name: "Int→KiB \(r.name) ≤ 1.0× Dictionary", measured: r.ratio, limit: 1.0, unit: "×"))
                default: break
                }
            }
        }
        if o.latency { goals += latencyWorkload(keys, runs: o.runs) }
        goals += runService(keys, runs: o.runs, o.service)

        print("\n## Goals (issues 4, 11, 13)\n")
        print("| goal | measured | limit | met |")
        print("|---|---:|---:|:---:|")
        for g in goals {
            print("| \(g.name) | \(format(g.measured, g.unit)) | \(format(g.limit, g.unit)) | \(g.measured <= g.limit ? "yes" : "**no**") |")
            BenchJSON.row("goals", [("goal", .string(g.name)), ("measured", .number(g.measured)), ("limit", .number(g.limit)),
                                    ("unit", .string(g.unit)), ("met", .bool(g.measured <= g.limit))])
        }
    }

    // MARK: Workloads

    struct Row {
        var name: String
        var arenaNanos: Double
        var dictNanos: Double
        /// Of `arenaNanos`: time inside the arena's mmap/munmap/madvise calls.
        var arenaSyscallNanos: Double = 0
        var ratio: Double { arenaNanos / dictNanos }
    }

    struct Goal {
        var name: String
        var measured: Double
        var limit: Double
        var unit: String
    }

    /// Distinct pseudo-random keys (a bijective mix of 0..<2N): the first N are inserted, the rest are misses.
    struct Keys {
        let insert: [Int]
        let lookup: [Int]  // the inserted keys, shuffled
        let miss: [Int]
        let remove: [Int]  // the inserted keys, shuffled differently

        init(count n: Int) {
            insert = (0..<n).map { Keys.mix(UInt64($0)) }
            miss = (n..<(2 * n)).map { Keys.mix(UInt64($0)) }
            var rng = SplitMix64(seed: 42)
            lookup = insert.shuffled(using: &rng)
            remove = insert.shuffled(using: &rng)
        }

        static func mix(_ x: UInt64) -> Int {
            var z = x &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int(bitPattern: UInt(z ^ (z >> 31)))
        }
    }

    /// Times every operation on both maps; each run starts from a fresh map, the best run counts.
    static func timeWorkloads<V>(
        _ keys: Keys, runs: Int, value: (Int) -> V, read: (V) -> Int
    ) -> [Row] {
        let n = keys.insert.count
        let names = ["insert, no reserve", "insert, reserved", "lookup hit", "lookup miss", "iterate (10 passes)", "remove"]
        let iteratePasses = 10
        var bestArena = Array(repeating: Double.infinity, count: names.count)
        var bestDict = Array(repeating: Double.infinity, count: names.count)
        var arenaSyscalls = Array(repeating: 0.0, count: names.count)
        let arena = makeArena()
        var sink = 0  // captured (boxed) by the timed closures: each loop sums into a local and adds once
        for _ in 0..<runs {
            // ArenaMap
            do {
                var t = [Double](repeating: 0, count: names.count)
                var sys = [Double](repeating: 0, count: names.count)
                func timeArena(_ j: Int, _ body: () -> Void) {
                    let s0 = arena.stats.syscallNanoseconds
                    t[j] = time(body)
                    sys[j] = Double(arena.stats.syscallNanoseconds - s0)
                }
                var m = ArenaMap<Int, V>(arena: arena)
                timeArena(0) { for k in keys.insert { m[k] = value(k) } }
                m = ArenaMap(arena: arena)
                settle(arena)
                var r = ArenaMap<Int, V>(arena: arena, minimumCapacity: n)
                timeArena(1) { for k in keys.insert { r[k] = value(k) } }
                timeArena(2) { var acc = 0; for k in keys.lookup { acc &+= read(r[k]!) }; sink &+= acc }
                timeArena(3) { var acc = 0; for k in keys.miss { acc &+= r[k].map(read) ?? 1 }; sink &+= acc }
                timeArena(4) { var acc = 0; for _ in 0..<iteratePasses { for (k, v) in r { acc &+= k &+ read(v) } }; sink &+= acc }
                timeArena(5) { var acc = 0; for k in keys.remove { acc &+= read(r.removeValue(forKey: k)!) }; sink &+= acc }
                precondition(r.isEmpty && m.isEmpty)
                for j in t.indices where t[j] < bestArena[j] {
                    bestArena[j] = t[j]
                    arenaSyscalls[j] = sys[j]
                }
            }
            settle(arena)
            // Dictionary
            do {
                var t = [Double](repeating: 0, count: names.count)
                var d: [Int: V] = [:]
                t[0] = time { for k in keys.insert { d[k] = value(k) } }
                d = [:]
                var r = [Int: V](minimumCapacity: n)
                t[1] = time { for k in keys.insert { r[k] = value(k) } }
                t[2] = time { var acc = 0; for k in keys.lookup { acc &+= read(r[k]!) }; sink &+= acc }
                t[3] = time { var acc = 0; for k in keys.miss { acc &+= r[k].map(read) ?? 1 }; sink &+= acc }
                t[4] = time { var acc = 0; for _ in 0..<iteratePasses { for (k, v) in r { acc &+= k &+ read(v) } }; sink &+= acc }
                t[5] = time { var acc = 0; for k in keys.remove { acc &+= read(r.removeValue(forKey: k)!) }; sink &+= acc }
                precondition(r.isEmpty && d.isEmpty)
                for j in t.indices { bestDict[j] = min(bestDict[j], t[j]) }
            }
        }
        if sink == 42 { print("") }  // keep the work observable
        bestArena[4] /= Double(iteratePasses)
        bestDict[4] /= Double(iteratePasses)
        arenaSyscalls[4] /= Double(iteratePasses)
        return names.indices.map {
            Row(name: names[$0], arenaNanos: bestArena[$0] / Double(n), dictNanos: bestDict[$0] / Double(n), arenaSyscallNanos: arenaSyscalls[$0] / Double(n))
        }
    }

    /// Peak HeapInuse against the payload, and what is held after removing all but 100 and after the drop.
    static func memoryWorkload(_ keys: Keys) -> [Goal] {
        let n = keys.insert.count
        let payload = n * 1024
        let arena = makeArena()
        // Warm-up: run the same code on a small map first, so the code pages of the map and arena (file-backed RSS)
        // are already resident and the figures below are the map's memory, not first use of its machine code.
        do {
            var w = ArenaMap<Int, KiB>(arena: arena)
            for k in keys.insert.prefix(20_000) { w[k] = KiB(k) }
            for k in keys.insert.prefix(20_000) { w[k] = nil }
        }
        _ = try? arena.release()
        let mallocBefore = mallocInUse()
        let anon0 = anonResidentBytes()
        let rss0 = residentBytes()
        var peakInuse = 0
        var peakHeld = 0
        var heldFew = 0, inuseFew = 0, rssFew = 0, heldDropped = -1, inuseDropped = 0, rssDropped = 0
        var removeSeconds = 0.0
        do {
            var m = ArenaMap<Int, KiB>(arena: arena)
            for (i, k) in keys.insert.enumerated() {
                m[k] = KiB(k)
                if i & 1023 == 0 {
                    peakInuse = max(peakInuse, arena.stats.heapInuse)
                    peakHeld = max(peakHeld, m.memoryStats.heldBytes)
                }
            }
            peakInuse = max(peakInuse, arena.stats.heapInuse)
            peakHeld = max(peakHeld, m.memoryStats.heldBytes)
            let rssFull = residentBytes()
            removeSeconds = time { for k in keys.remove.dropLast(100) { _ = m.removeValue(forKey: k) } } / 1e9
            heldFew = m.memoryStats.heldBytes
            _ = try? arena.performDeferredWork()
            inuseFew = arena.stats.heapInuse
            rssFew = residentBytes()
            print("## Memory, Int → 1 KiB, \(n) entries, arena strategy dontNeed\n")
            print("| figure | bytes | vs payload / pre-insert |")
            print("|---|---:|---:|")
            print("| payload (N × 1024 B) | \(payload) | 1.000 |")
            print("| peak arena HeapInuse | \(peakInuse) | \(format(Double(peakInuse) / Double(payload), "×")) |")
            print("| peak map heldBytes | \(peakHeld) | \(format(Double(peakHeld) / Double(payload), "×")) |")
            print("| process RSS before insert | \(rss0) | |")
            print("| process RSS full | \(rssFull) | +\(mib(rssFull - rss0)) |")
            print("| map heldBytes, 100 left | \(heldFew) | |")
            print("| arena HeapInuse, 100 left | \(inuseFew) | |")
            print("| process RSS, 100 left | \(rssFew) | +\(mib(rssFew - rss0)) |")
            print("(removing \(n - 100) entries took \(Fmt.fixed2(removeSeconds)) s)")
            BenchJSON.value("memory.payloadBytes", .int(payload))
            BenchJSON.value("memory.peakArenaHeapInuseBytes", .int(peakInuse))
            BenchJSON.value("memory.peakMapHeldBytes", .int(peakHeld))
            BenchJSON.value("memory.rssBeforeInsertBytes", .int(rss0))
            BenchJSON.value("memory.rssFullBytes", .int(rssFull))
            BenchJSON.value("memory.mapHeldBytes100Left", .int(heldFew))
            BenchJSON.value("memory.arenaHeapInuseBytes100Left", .int(inuseFew))
            BenchJSON.value("memory.rss100LeftBytes", .int(rssFew))
            BenchJSON.value("memory.removeAllBut100Seconds", .number(removeSeconds))
            withExtendedLifetime(m) {}
        }
        heldDropped = arena.stats.alloc  // only this map used this arena
        _ = try? arena.performDeferredWork()
        inuseDropped = arena.stats.heapInuse
        rssDropped = residentBytes()
        print("| arena HeapInuse after drop | \(inuseDropped) | |")
        print("| process RSS after drop | \(rssDropped) | +\(mib(rssDropped - rss0)) |")
        print("| of which anonymous (statm resident − shared) | \(anonResidentBytes()) | +\(mib(anonResidentBytes() - anon0)) |")
        let arenaResident = (try? arena.residentBytes()) ?? -1
        let mallocNow = mallocInUse()
        print("| arena resident after drop (mincore) | \(arenaResident) | |")
        print("| malloc in use: before insert → after drop | \(mallocBefore) → \(mallocNow) | +\(mib(mallocNow - mallocBefore)) |")
        _ = cshims_malloc_trim(0)
        print("| process RSS after drop and malloc_trim(0) | \(residentBytes()) | +\(mib(residentBytes() - rss0)) |")

        // The same with Dictionary, for contrast (RSS only: malloc keeps no books we can read cheaply).
        let drss0 = residentBytes()
        var dpeak = 0
        var drssFew = 0
        do {
            var d: [Int: KiB] = [:]
            for (i, k) in keys.insert.enumerated() {
                d[k] = KiB(k)
                if i & 16383 == 0 { dpeak = max(dpeak, residentBytes()) }
            }
            dpeak = max(dpeak, residentBytes())
            for k in keys.remove.dropLast(100) { d[k] = nil }
            drssFew = residentBytes()
            withExtendedLifetime(d) {}
        }
        print("| Dictionary: peak RSS (sampled) | \(dpeak) | +\(mib(dpeak - drss0)), \(format(Double(dpeak - drss0) / Double(payload), "×")) payload |")
        print("| Dictionary: RSS with 100 left | \(drssFew) | +\(mib(drssFew - drss0)) |")
        BenchJSON.value("memory.arenaHeapInuseAfterDropBytes", .int(inuseDropped))
        BenchJSON.value("memory.rssAfterDropBytes", .int(rssDropped))
        BenchJSON.value("memory.arenaResidentAfterDropBytes", .int(arenaResident))
        BenchJSON.value("memory.dictionaryRssBeforeBytes", .int(drss0))
        BenchJSON.value("memory.dictionaryPeakRssBytes", .int(dpeak))
        BenchJSON.value("memory.dictionaryRss100LeftBytes", .int(drssFew))
        print("")
        return [
            Goal(name: "peak HeapInuse / payload, 1M × 1 KiB", measured: Double(peakInuse) / Double(payload), limit: 1.15, unit: "×"),
            Goal(name: "arena pages held by the map with 100 left", measured: Double(heldFew) / Double(1 << 20), limit: 1, unit: "MiB"),
            Goal(name: "RSS with 100 left − RSS before insert (dontNeed)", measured: Double(rssFew - rss0) / Double(1 << 20), limit: 2, unit: "MiB"),
            Goal(name: "arena bytes allocated after drop", measured: Double(heldDropped), limit: 0, unit: "B"),
            Goal(name: "RSS after drop − RSS before insert", measured: Double(rssDropped - rss0) / Double(1 << 20), limit: 1, unit: "MiB"),
        ]
    }

    /// The latency of every single insert while growing to N, and every remove while draining to 0, `runs` times.
    ///
    /// On a shared 2-core box the thread is preempted for whole scheduler ticks (4 ms here) inside random
    /// operations, and a long operation (Dictionary's full rehash) is preempted almost surely. So each op is timed
    /// twice: wall clock (CLOCK_MONOTONIC, what a caller waits, preemption included) and the thread's own CPU time
    /// (CLOCK_THREAD_CPUTIME_ID, user + kernel time spent on the op, including its page faults and syscalls,
    /// excluding time off the CPU), capped by the wall time (the thread clock is tick-accounted in this VM and can
    /// jump by ~1 ms inside a 2 µs op). The goal compares these maxima; wall-clock figures are printed beside them.
    static func latencyWorkload(_ keys: Keys, runs: Int) -> [Goal] {
        let n = keys.insert.count
        print("\n## Single-operation latency, Int → Int, growing to \(n) then draining to 0, \(runs) runs\n")
        print("Wall percentiles from the last run (ns, clock overhead ~20–40 ns included); maxima in µs for each run.\n")
        var wall = [UInt32](repeating: 0, count: n)
        var cpu = [UInt32](repeating: 0, count: n)
        var results: [String: [Percentiles]] = [:]
        var outliers: [String] = []
        let names = ["Dictionary insert", "Dictionary remove", "ArenaMap insert", "ArenaMap remove"]
        func record(_ name: String, run: Int, _ note: (Int) -> String = { _ in "" }) {
            results[name, default: []].append(Percentiles(wall, cpu: cpu))
            for i in cpu.indices where cpu[i] > 500_000 {
                outliers.append("run \(run) \(name) #\(i): CPU \(us(cpu[i])), wall \(us(wall[i]))\(note(i))")
            }
        }
        for run in 0..<runs {
            var d: [Int: Int] = [:]
            for (i, k) in keys.insert.enumerated() {
                let c0 = threadCPUNanoseconds()
                let t0 = monotonicNanoseconds()
                d[k] = k
                wall[i] = UInt32(clamping: monotonicNanoseconds() - t0)
                cpu[i] = min(wall[i], UInt32(clamping: threadCPUNanoseconds() - c0))
            }
            record("Dictionary insert", run: run)
            for (i, k) in keys.remove.enumerated() {
                let c0 = threadCPUNanoseconds()
                let t0 = monotonicNanoseconds()
                d[k] = nil
                wall[i] = UInt32(clamping: monotonicNanoseconds() - t0)
                cpu[i] = min(wall[i], UInt32(clamping: threadCPUNanoseconds() - c0))
            }
            record("Dictionary remove", run: run)
            d = [:]

            let arena = makeArena()
            var m = ArenaMap<Int, Int>(arena: arena)
            var notes: [Int: String] = [:]
            for pass in 0..<2 {
                let order = pass == 0 ? keys.insert : keys.remove
                notes.removeAll()
                for (i, k) in order.enumerated() {
                    let sys0 = arena.stats.madviseCalls + arena.stats.mmapCalls + arena.stats.munmapCalls
                    let before = m.memoryStats
                    let c0 = threadCPUNanoseconds()
                    let t0 = monotonicNanoseconds()
                    if pass == 0 { m[k] = k } else { m[k] = nil }
                    wall[i] = UInt32(clamping: monotonicNanoseconds() - t0)
                    cpu[i] = min(wall[i], UInt32(clamping: threadCPUNanoseconds() - c0))
                    if cpu[i] > 500_000 {
                        let after = m.memoryStats
                        let sys = arena.stats.madviseCalls + arena.stats.mmapCalls + arena.stats.munmapCalls - sys0
                        notes[i] = " — arena syscalls \(sys), index slots \(before.tableCapacity)→\(after.tableCapacity)\(after.isResizing ? " (resizing)" : ""), chunks \(before.chunkCount)→\(after.chunkCount)"
                    }
                }
                record(pass == 0 ? "ArenaMap insert" : "ArenaMap remove", run: run) { notes[$0] ?? "" }
            }
            precondition(m.isEmpty && d.isEmpty)
        }
        print("| map, op | p50 | p99 | p99.9 | max CPU time, each run | max wall time, each run |")
        print("|---|---:|---:|---:|---|---|")
        for name in names {
            let ps = results[name]!
            let last = ps.last!
            print("| \(name) | \(last.p50) | \(last.p99) | \(last.p999) | \(ps.map { us($0.maxCPU) }.joined(separator: ", ")) | \(ps.map { us($0.max) }.joined(separator: ", ")) |")
            BenchJSON.row("latency", [("operation", .string(name)), ("p50Ns", .int(Int(last.p50))), ("p99Ns", .int(Int(last.p99))),
                                      ("p999Ns", .int(Int(last.p999))), ("maxCPUNs", .int(Int(ps.map(\.maxCPU).max()!))),
                                      ("maxWallNs", .int(Int(ps.map(\.max).max()!)))])
        }
        print("\nOperations that took over 0.5 ms of CPU:")
        for line in outliers.prefix(40) { print("- \(line)") }
        if outliers.count > 40 { print("- … \(outliers.count - 40) more") }
        func worst(_ name: String, _ f: (Percentiles) -> UInt32) -> Double { Double(results[name]!.map(f).max()!) }
        return [
            Goal(name: "worst ArenaMap insert/remove / worst Dictionary insert (Int→Int, thread CPU time per op, all runs)",
                 measured: max(worst("ArenaMap insert", \.maxCPU), worst("ArenaMap remove", \.maxCPU)) / worst("Dictionary insert", \.maxCPU), limit: 0.1, unit: "×"),
            Goal(name: "same in wall time, preemption included (scheduler noise on a shared 2-core VM)",
                 measured: max(worst("ArenaMap insert", \.max), worst("ArenaMap remove", \.max)) / worst("Dictionary insert", \.max), limit: 0.1, unit: "×"),
        ]
    }

    static func us(_ ns: UInt32) -> String { Fmt.fixed1(Double(ns) / 1000) + " µs" }


    // MARK: Helpers

    struct Percentiles {
        var p50: UInt32, p99: UInt32, p999: UInt32, max: UInt32
        /// The largest CPU time one operation took.
        var maxCPU: UInt32
        init(_ samples: [UInt32], cpu: [UInt32]) {
            let s = samples.sorted()
            func at(_ q: Double) -> UInt32 { s[min(s.count - 1, Int(Double(s.count) * q))] }
            p50 = at(0.5)
            p99 = at(0.99)
            p999 = at(0.999)
            max = s.last ?? 0
            maxCPU = cpu.max() ?? 0
        }
    }

    /// Flushes the arena's deferred release so the next timed phase does not pay for the previous one.
    static func settle(_ arena: PageArena) {
        _ = try? arena.release()
    }

    static func printTable(_ title: String, _ rows: [Row]) {
        print("\n## Time per operation, \(title) (ns/op, best run)\n")
        print("| operation | ArenaMap | of which arena syscalls | Dictionary | ratio |")
        print("|---|---:|---:|---:|---:|")
        for r in rows {
            print("| \(r.name) | \(Fmt.fixed1(r.arenaNanos)) | \(Fmt.fixed1(r.arenaSyscallNanos)) | \(Fmt.fixed1(r.dictNanos)) | \(format(r.ratio, "×")) |")
            BenchJSON.row("time \(title)", [("operation", .string(r.name)), ("arenaMapNsPerOp", .number(r.arenaNanos)),
                                            ("arenaSyscallNsPerOp", .number(r.arenaSyscallNanos)),
                                            ("dictionaryNsPerOp", .number(r.dictNanos)), ("arenaMapOverDictionary", .number(r.ratio))])
        }
    }

    static func format(_ v: Double, _ unit: String) -> String {
        switch unit {
        case "×": return Fmt.fixed3(v) + "×"
        case "MiB": return Fmt.fixed2(v) + " MiB"
        default: return "\(Int(v)) \(unit)"
        }
    }

    static func mib(_ bytes: Int) -> String { Fmt.fixed2(Double(bytes) / Double(1 << 20)) + " MiB" }

    /// glibc's in-use bytes (mallinfo2 uordblks + hblkhd).
    static func mallocInUse() -> Int {
        let m = cshims_mallinfo2()
        return Int(m.uordblks) + Int(m.hblkhd)
    }

    /// Anonymous resident bytes: statm `resident − shared` (shared = RssFile + RssShmem).
    static func anonResidentBytes() -> Int {
        guard let s = try? Statm.read(pid: nil) else { return -1 }
        return s.resident - s.shared
    }

    static func residentBytes() -> Int {
        (try? Statm.read(pid: nil).resident) ?? -1
    }

    /// Nanoseconds `body` took.
    @inline(never)
    static func time(_ body: () -> Void) -> Double {
        let t0 = monotonicNanoseconds()
        body()
        return Double(monotonicNanoseconds() - t0)
    }

    /// A 1 KiB value (8-byte aligned, so an Int-keyed entry is 1032 bytes).
    struct KiB {
        var words: InlineArray<128, Int>
        @inline(__always) init(_ x: Int) { words = InlineArray(repeating: x) }
        var first: Int { words[0] }
        var last: Int { words[127] }
    }

    enum Fmt {
        static func fixed1(_ v: Double) -> String { fixed(v, 1) }
        static func fixed2(_ v: Double) -> String { fixed(v, 2) }
        static func fixed3(_ v: Double) -> String { fixed(v, 3) }

        /// Fixed-point formatting without Foundation.
        static func fixed(_ v: Double, _ digits: Int) -> String {
            if !v.isFinite { return "\(v)" }
            var scale = 1.0
            for _ in 0..<digits { scale *= 10 }
            let r = (abs(v) * scale).rounded()
            let whole = Int(r / scale)
            let frac = Int(r - Double(whole) * scale)
            var f = String(frac)
            while f.count < digits { f = "0" + f }
            return (v < 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + f : "")
        }
    }
}
