#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CShims
import MemProbeArena
import MemProbeSystem

/// `memprobe-bench arena`: PageArena against its baselines, measured in the same run (issue 3's goals).
///
/// - `throughput`: allocate N blocks then free them in a shuffled order, arena vs glibc `malloc`/`free` of the same
///   sizes (small blocks and page runs); the arena with `retain` (allocator cost only) and with `dontNeed`
///   (what the default strategy costs when every free releases its pages). Best of `--runs` rounds.
/// - `release`: cost per base page of releasing a write-touched range through the arena, per strategy, against the
///   raw `madvise`/`munmap` on a range of the same size, interleaved, median of `--runs`. Two arena paths:
///   `release(using:)` (one call for the whole idle range) and the free path (`deallocate` releasing its bounded
///   share, then `performDeferredWork` calls of the same bound until the backlog is gone). Also in THP mode.
/// - `effects`: for each strategy, write `--effects-mib` through the arena, free it, let deferred work run, then
///   `release()`, and print the arena's books next to the kernel's (smaps_rollup Rss/LazyFree deltas, mincore).
///
/// - `threads`: 1, 2, 4 and 8 threads allocating and freeing on one shared arena vs glibc (which has per-thread
///   caches and arenas): aggregate millions of allocate+free pairs per second.
/// - `latency`: the pause a caller sees when it frees `--latency-mib` (default 1 GiB) in one call: the `deallocate`
///   itself, then the slowest of the following small allocate/deallocate calls that drain the backlog, against the
///   same release done in one `release()` call (what an unbounded design would do inside the free).
///
/// Touching pages is never inside a timed region: page faults in a VM cost 2–10 µs and would drown the release.
enum ArenaBenchmarks {
    struct Options {
        var modes: [String] = []
        var releaseMiB = 64
        var effectsMiB = 256
        var runs = 7
        var ops = 100_000
        var thp = true
        var sizes: [Int]? = nil
        var latencyMiB = 1024
    }

    static let usage = """
        usage: memprobe-bench arena [throughput] [threads] [release] [effects] [latency] [--runs R] [--ops N]
                                    [--release-mib M] [--effects-mib M] [--latency-mib M] [--no-thp] [--sizes B,B,…]
                                    [--format text|json]
          (no mode: all five; --format json: one JSON object on stdout with every figure, the tables go to stderr)
        """

    static func run(_ arguments: [String]) {
        var o = Options()
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            let next = i + 1 < arguments.count ? Int(arguments[i + 1]) : nil
            switch a {
            case "throughput", "release", "effects", "latency", "threads": o.modes.append(a)
            case "--runs": o.runs = max(1, next ?? o.runs); i += 1
            case "--ops": o.ops = max(100, next ?? o.ops); i += 1
            case "--release-mib": o.releaseMiB = max(4, next ?? o.releaseMiB); i += 1
            case "--effects-mib": o.effectsMiB = max(4, next ?? o.effectsMiB); i += 1
            case "--latency-mib": o.latencyMiB = max(8, next ?? o.latencyMiB); i += 1
            case "--no-thp": o.thp = false
            case "--sizes":
                o.sizes = i + 1 < arguments.count ? arguments[i + 1].split(separator: ",").compactMap { Int($0) } : nil
                i += 1
            case "-h", "--help": print(usage); return
            case _ where BenchJSON.parseFormat(arguments, at: &i): break
            default:
                print("memprobe-bench arena: unknown argument \(a)\n\(usage)")
                exit(64)
            }
            i += 1
        }
        if o.modes.isEmpty { o.modes = ["throughput", "threads", "release", "effects", "latency"] }
        BenchJSON.begin(benchmark: "arena")
        defer { BenchJSON.finish() }
        BenchJSON.value("runs", .int(o.runs))
        BenchJSON.value("opsPerRound", .int(o.ops))
        printEnvironment()
        for m in o.modes {
            switch m {
            case "throughput": throughput(o)
            case "release": releaseCost(o)
            case "latency": latency(o)
            case "threads": threads(o)
            default: effects(o)
            }
        }
    }

    // MARK: - Shared helpers

    static let pageSize = VirtualMemory.pageSize
    static let MiB = 1 << 20

    /// Writes one byte per page: only a write makes a page resident (a read maps the shared zero page).
    static func touch(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
        var off = 0
        while off < bytes {
            p.storeBytes(of: 1, toByteOffset: off, as: UInt8.self)
            off += pageSize
        }
    }

    static func readLine(_ path: String) -> String {
        guard let f = fopen(path, "r") else { return "?" }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 512)
        guard fgets(&buf, Int32(buf.count), f) != nil else { return "?" }
        let s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return s.hasSuffix("\n") ? String(s.dropLast()) : s
    }

    static func printEnvironment() {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #if DEBUG
        let build = "debug (figures are NOT representative: build with -c release)"
        #else
        let build = "release"
        #endif
        let thp = readLine("/sys/kernel/mm/transparent_hugepage/enabled"), load = readLine("/proc/loadavg")
        print("# memprobe-bench arena — build \(build); kernel \(release); page \(pageSize) B; THP \(thp); loadavg \(load)")
        BenchJSON.environment("build", .string(build))
        BenchJSON.environment("kernel", .string(release))
        BenchJSON.environment("pageSize", .int(pageSize))
        BenchJSON.environment("transparentHugepage", .string(thp))
        BenchJSON.environment("loadavg", .string(load))
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        if s.isEmpty { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func fmt(_ x: Double, _ digits: Int = 1) -> String {
        if x.isNaN { return "—" }
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        let r = (x * p).rounded() / p
        var s = "\(r)"
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        } else if digits > 0 {
            s += "." + String(repeating: "0", count: digits)
        }
        return s
    }

    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
    static func padRight(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }

    /// A Markdown table row; the first `left` columns are left-aligned, the rest (numbers) right-aligned.
    static func row(_ cells: [String], _ widths: [Int], left: Int = 1) {
        var line = "|"
        for (i, c) in cells.enumerated() {
            line += " " + (i < left ? padRight(c, widths[i]) : pad(c, widths[i])) + " |"
        }
        print(line)
    }

    static func header(_ cells: [String], _ widths: [Int], left: Int = 1) {
        row(cells, widths, left: left)
        print("|" + widths.enumerated().map { i, w in
            i < left ? " " + String(repeating: "-", count: w) + " |" : " " + String(repeating: "-", count: w - 1) + ": |"
        }.joined())
    }

    // MARK: - Throughput

    /// A fixed pseudo-random permutation (xorshift), so both allocators free in the same order.
    static func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in stride(from: n - 1, to: 0, by: -1) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            p.swapAt(i, Int(x % UInt64(i + 1)))
        }
        return p
    }

    /// ns per allocate+free pair: allocate `count` blocks (one byte written in each), free them in `order`.
    static func timeRound(
        count: Int, order: [Int], slots: UnsafeMutableBufferPointer<UnsafeMutableRawPointer?>,
        allocate: (Int) -> UnsafeMutableRawPointer, free: (UnsafeMutableRawPointer) -> Void
    ) -> Double {
        let t0 = monotonicNanoseconds()
        for i in 0..<count {
            let p = allocate(i)
            p.storeBytes(of: UInt8(truncatingIfNeeded: i), as: UInt8.self)
            slots[i] = p
        }
        for i in order { free(slots[i]!) }
        return Double(monotonicNanoseconds() - t0) / Double(count)
    }

    static func throughput(_ o: Options) {
        print("\n## Allocation throughput: allocate N, free N in a shuffled order (ns per allocate+free pair, best of \(o.runs))\n")
        let widths = [10, 9, 8, 13, 14, 13, 12, 12, 14, 13]
        header(["kind", "size", "N", "arena retain", "arena dontNeed", "arena cached", "glibc malloc", "retain/glibc",
                "dontNeed/glibc", "cached/glibc"], widths)
        let small = [16, 32, 48, 64, 128, 256, 512, 2048]
        let runs = [8 << 10, 64 << 10, 256 << 10, 1 << 20]
        for size in o.sizes ?? (small + runs) {
            // Keep at most ~512 MiB of address space live per round (only one page of each block is written).
            let count = max(256, min(o.ops, (512 * MiB) / max(size, 1)))
            let order = permutation(count)
            let slots = UnsafeMutableBufferPointer<UnsafeMutableRawPointer?>.allocate(capacity: count)
            defer { slots.deallocate() }
            let retain = PageArena(strategy: .retain)
            let dontNeed = PageArena(strategy: .dontNeed)
            let cached = PageArena(strategy: .retain, configuration: .init(threadCache: true))
            var best = (retain: Double.infinity, dontNeed: Double.infinity, malloc: Double.infinity)
            var bestCached = Double.infinity
            // One untimed warm-up round each: regions mapped, pages faulted, malloc's heap grown.
            for round in 0...o.runs {
                let r = timeRound(count: count, order: order, slots: slots,
                                  allocate: { _ in try! retain.allocate(byteCount: size) },
                                  free: { retain.deallocate($0, byteCount: size) })
                let d = timeRound(count: count, order: order, slots: slots,
                                  allocate: { _ in try! dontNeed.allocate(byteCount: size) },
                                  free: { dontNeed.deallocate($0, byteCount: size) })
                let m = timeRound(count: count, order: order, slots: slots,
                                  allocate: { _ in malloc(size)! }, free: { Glibc.free($0) })
                let t = timeRound(count: count, order: order, slots: slots,
                                  allocate: { _ in try! cached.allocate(byteCount: size) },
                                  free: { cached.deallocate($0, byteCount: size) })
                if round > 0 {
                    best = (min(best.retain, r), min(best.dontNeed, d), min(best.malloc, m))
                    bestCached = min(bestCached, t)
                }
            }
            let kind = size <= 2048 ? "small" : "page run"
            let sizeText = size >= MiB ? "\(size / MiB) MiB" : size >= 1024 ? "\(size / 1024) KiB" : "\(size) B"
            row([kind, sizeText, "\(count)", fmt(best.retain), fmt(best.dontNeed), fmt(bestCached), fmt(best.malloc),
                 fmt(best.retain / best.malloc, 2) + "×", fmt(best.dontNeed / best.malloc, 2) + "×",
                 fmt(bestCached / best.malloc, 2) + "×"], widths)
            BenchJSON.row("throughput", [
                ("kind", .string(kind)), ("sizeBytes", .int(size)), ("count", .int(count)),
                ("arenaRetainNsPerPair", .number(best.retain)), ("arenaDontNeedNsPerPair", .number(best.dontNeed)),
                ("arenaThreadCacheNsPerPair", .number(bestCached)), ("glibcNsPerPair", .number(best.malloc)),
                ("retainOverGlibc", .number(best.retain / best.malloc)), ("dontNeedOverGlibc", .number(best.dontNeed / best.malloc)),
                ("threadCacheOverGlibc", .number(bestCached / best.malloc)),
            ])
        }
        print("\n(arena retain = allocator work only; arena dontNeed = plus MADV_DONTNEED of every freed page run; "
              + "arena cached = retain with Configuration.threadCache (16–256 B blocks skip the lock; larger sizes as retain); "
              + "glibc free never releases these sizes except by trimming the heap top)")
    }

    // MARK: - Release cost

    /// One strategy's release, and the raw system call(s) it should cost.
    struct ReleaseCase {
        var name: String
        var strategy: ReleaseStrategy
        var raw: (UnsafeMutableRawPointer, Int) -> Void
        var hugePages = false
        var unmapsRaw = false
    }

    static func rawAdvise(_ advice: MemoryAdvice) -> (UnsafeMutableRawPointer, Int) -> Void {
        { p, n in precondition(cshims_madvise(p, n, advice.rawValue) == 0, "madvise(\(advice))") }
    }

    /// Maps and write-touches `bytes` of raw memory (2 MiB aligned with MADV_HUGEPAGE in THP mode).
    static func rawRange(_ bytes: Int, hugePages: Bool) -> UnsafeMutableRawPointer {
        let p: UnsafeMutableRawPointer
        if hugePages {
            p = try! VirtualMemory.map(byteCount: bytes, alignment: VirtualMemory.hugePageSize)
            try? VirtualMemory.advise(p, byteCount: bytes, .hugePage)
        } else {
            p = try! VirtualMemory.map(byteCount: bytes)
        }
        touch(p, bytes)
        return p
    }

    /// ns per base page of the raw call on a freshly touched range.
    static func timeRaw(_ c: ReleaseCase, bytes: Int) -> Double {
        let p = rawRange(bytes, hugePages: c.hugePages)
        let t0 = monotonicNanoseconds()
        c.raw(p, bytes)
        let ns = monotonicNanoseconds() - t0
        if !c.unmapsRaw { _ = cshims_munmap(p, bytes) }
        return Double(ns) / Double(bytes / VirtualMemory.pageSize)
    }

    static func arena(for c: ReleaseCase, bytes: Int, strategy: ReleaseStrategy) -> PageArena {
        PageArena(strategy: strategy, configuration: .init(regionSize: bytes, hugePages: c.hugePages))
    }

    /// `release(using:)` of a freed, touched range (freed under `retain`, so nothing was released before).
    static func timeArenaRelease(_ c: ReleaseCase, bytes: Int) -> (ns: Double, calls: Int) {
        let a = arena(for: c, bytes: bytes, strategy: .retain)
        let p = try! a.allocate(byteCount: bytes)
        touch(p, bytes)
        a.deallocate(p, byteCount: bytes)
        let t0 = monotonicNanoseconds()
        let r = try! a.release(using: c.strategy)
        let ns = monotonicNanoseconds() - t0
        precondition(r.releasedBytes >= bytes - (c.hugePages ? VirtualMemory.hugePageSize : 0), "\(c.name): released \(r.releasedBytes) of \(bytes)")
        return (Double(ns) / Double(bytes / VirtualMemory.pageSize), r.madviseCalls)
    }

    /// The free path: `deallocate` (which releases at most the per-call bound) and then `performDeferredWork`
    /// with the same bound until nothing is left — the way a busy service's later calls drain the backlog.
    static func timeArenaFreePath(_ c: ReleaseCase, bytes: Int) -> (ns: Double, calls: Int) {
        let a = arena(for: c, bytes: bytes, strategy: c.strategy)
        let p = try! a.allocate(byteCount: bytes)
        touch(p, bytes)
        let before = a.stats
        let bound = a.configuration.maxReleaseBytesPerCall
        let t0 = monotonicNanoseconds()
        a.deallocate(p, byteCount: bytes)
        while try! a.performDeferredWork(budgetBytes: bound).releasedBytes > 0 {}
        let ns = monotonicNanoseconds() - t0
        let after = a.stats
        let calls = after.madviseCalls + after.munmapCalls - before.madviseCalls - before.munmapCalls
        return (Double(ns) / Double(bytes / VirtualMemory.pageSize), calls)
    }

    static func releaseCost(_ o: Options) {
        let bytes = o.releaseMiB * MiB
        print("\n## Release cost per base page: \(o.releaseMiB) MiB write-touched range, median of \(o.runs) interleaved runs (ratios: median of per-run ratios)\n")
        var cases: [ReleaseCase] = [
            ReleaseCase(name: "lazyFree", strategy: .lazyFree, raw: rawAdvise(.free)),
            ReleaseCase(name: "dontNeed", strategy: .dontNeed, raw: rawAdvise(.dontNeed)),
            ReleaseCase(name: "decay (due)", strategy: .decay(delay: .zero), raw: rawAdvise(.dontNeed)),
            ReleaseCase(name: "unmap", strategy: .unmap, raw: { p, n in precondition(cshims_munmap(p, n) == 0) }, unmapsRaw: true),
            ReleaseCase(name: "freeThenPageOut (due)", strategy: .freeThenPageOut(delay: .zero),
                        raw: { p, n in rawAdvise(.free)(p, n); rawAdvise(.pageOut)(p, n) }),
        ]
        if o.thp {
            cases += [
                ReleaseCase(name: "lazyFree, THP", strategy: .lazyFree, raw: rawAdvise(.free), hugePages: true),
                ReleaseCase(name: "dontNeed, THP", strategy: .dontNeed, raw: rawAdvise(.dontNeed), hugePages: true),
                ReleaseCase(name: "unmap, THP", strategy: .unmap, raw: { p, n in precondition(cshims_munmap(p, n) == 0) },
                            hugePages: true, unmapsRaw: true),
            ]
        }
        let widths = [21, 8, 12, 10, 9, 5, 12, 10, 9, 5]
        header(["strategy", "raw ns", "release() ns", "÷raw med", "÷raw min", "calls",
                "free path ns", "÷raw med", "÷raw min", "calls"], widths)
        for c in cases {
            // Each run measures raw, release() and the free path back to back; the ratios are taken per run and
            // their median reported, so load that drifts between runs (other builds on the machine) cancels out.
            var raw: [Double] = [], rel: [Double] = [], free: [Double] = [], relRatio: [Double] = [], freeRatio: [Double] = []
            var relCalls = 0, freeCalls = 0
            for _ in 0..<o.runs {
                let w = timeRaw(c, bytes: bytes)
                let r = timeArenaRelease(c, bytes: bytes)
                let f = timeArenaFreePath(c, bytes: bytes)
                raw.append(w); rel.append(r.ns); free.append(f.ns)
                relRatio.append(r.ns / w); freeRatio.append(f.ns / w)
                relCalls = r.calls; freeCalls = f.calls
            }
            let best = (raw: raw.min()!, rel: rel.min()!, free: free.min()!)
            row([c.name, fmt(median(raw)), fmt(median(rel)), fmt(median(relRatio), 2) + "×", fmt(best.rel / best.raw, 2) + "×",
                 "\(relCalls)", fmt(median(free)), fmt(median(freeRatio), 2) + "×", fmt(best.free / best.raw, 2) + "×",
                 "\(freeCalls)"], widths)
            BenchJSON.row("release\(o.releaseMiB)MiB", [
                ("strategy", .string(c.name)), ("rawNsPerPage", .number(median(raw))),
                ("releaseNsPerPage", .number(median(rel))), ("releaseOverRawMedian", .number(median(relRatio))),
                ("releaseOverRawBest", .number(best.rel / best.raw)), ("releaseCalls", .int(relCalls)),
                ("freePathNsPerPage", .number(median(free))), ("freePathOverRawMedian", .number(median(freeRatio))),
                ("freePathOverRawBest", .number(best.free / best.raw)), ("freePathCalls", .int(freeCalls)),
            ])
        }
        print("\n(ns per base page, medians; ÷raw med = median of the per-run ratios, ÷raw min = best arena run ÷ best raw run; "
              + "raw = one madvise/munmap over the same-size range; freeThenPageOut raw = MADV_FREE + MADV_PAGEOUT; "
              + "decay and freeThenPageOut with delay 0 so the work is due at once; free path = deallocate + "
              + "performDeferredWork(budgetBytes: maxReleaseBytesPerCall) until the backlog is empty)")
    }

    // MARK: - Effects

    struct Sample {
        var stats: ArenaStats
        var rss: Int
        var lazyFree: Int
        var anonHuge: Int
        var resident: Int
    }

    static func sample(_ a: PageArena) -> Sample {
        let r = try? SmapsRollup.read(pid: nil)
        return Sample(stats: a.stats, rss: r?.rss ?? 0, lazyFree: r?.lazyFree ?? 0, anonHuge: r?.anonHugePages ?? 0,
                      resident: (try? a.residentBytes()) ?? -1)
    }

    static func mib(_ bytes: Int) -> String { fmt(Double(bytes) / Double(MiB)) }

    static func effects(_ o: Options) {
        let bytes = o.effectsMiB * MiB
        let delay = Duration.milliseconds(200)
        print("\n## Effect of each strategy: \(o.effectsMiB) MiB written through the arena, freed, then deferred work, then release()")
        print("(MiB; ΔRss/ΔLazyFree from /proc/self/smaps_rollup against the moment before the allocation; "
              + "mincore counts lazily freed pages as resident)\n")
        let widths = [24, 22, 7, 9, 7, 9, 7, 7, 8, 7, 10, 10]
        header(["strategy", "step", "Alloc", "HeapInuse", "Sys", "Released", "lazy", "disc.", "mincore", "ΔRss", "ΔLazyFree",
                "ΔAnonHuge"], widths, left: 2)
        let strategies: [(ReleaseStrategy, Bool)] = [
            (.retain, false), (.lazyFree, false), (.dontNeed, false), (.unmap, false), (.decay(delay: delay), false),
            (.freeThenPageOut(delay: delay), false), (.lazyFree, true), (.dontNeed, true), (.unmap, true),
        ]
        for (s, huge) in strategies {
            let a = PageArena(strategy: s, configuration: .init(hugePages: huge))
            let base = sample(a)
            let p = try! a.allocate(byteCount: bytes)
            touch(p, bytes)
            var steps: [(String, Sample)] = [("written", sample(a))]
            a.deallocate(p, byteCount: bytes)
            steps.append(("freed (sync part)", sample(a)))
            _ = try? a.performDeferredWork()
            steps.append(("deferred, t=0", sample(a)))
            switch s {
            case .decay, .freeThenPageOut:
                var ts = timespec(tv_sec: 0, tv_nsec: 250_000_000)
                nanosleep(&ts, nil)
                _ = try? a.performDeferredWork()
                steps.append(("deferred, t=250ms", sample(a)))
            default: break
            }
            _ = try? a.release()
            steps.append(("release()", sample(a)))
            for (name, x) in steps {
                let st = x.stats
                row([s.description + (huge ? ", hugePages" : ""), name, mib(st.alloc), mib(st.heapInuse), mib(st.sys),
                     mib(st.heapReleased), mib(st.heapReleasedLazy), mib(st.heapReleasedDiscarded), mib(x.resident),
                     mib(x.rss - base.rss), mib(x.lazyFree - base.lazyFree), mib(x.anonHuge - base.anonHuge)],
                    widths, left: 2)
                BenchJSON.row("effects", [
                    ("strategy", .string(s.description)), ("hugePages", .bool(huge)), ("step", .string(name)),
                    ("allocBytes", .int(st.alloc)), ("heapInuseBytes", .int(st.heapInuse)), ("sysBytes", .int(st.sys)),
                    ("heapReleasedBytes", .int(st.heapReleased)), ("heapReleasedLazyBytes", .int(st.heapReleasedLazy)),
                    ("heapReleasedDiscardedBytes", .int(st.heapReleasedDiscarded)), ("mincoreResidentBytes", .int(x.resident)),
                    ("deltaRssBytes", .int(x.rss - base.rss)), ("deltaLazyFreeBytes", .int(x.lazyFree - base.lazyFree)),
                    ("deltaAnonHugePagesBytes", .int(x.anonHuge - base.anonHuge)),
                ])
            }
        }
    }

    // MARK: - Latency of a large free

    static func ms(_ ns: Int) -> String { fmt(Double(ns) / 1e6, 2) }

    static func latency(_ o: Options) {
        let bytes = o.latencyMiB * MiB
        print("\n## Pause seen by the caller when \(o.latencyMiB) MiB (write-touched) is freed in one call\n")
        let widths = [21, 13, 12, 12, 12, 9, 11, 13]
        header(["strategy", "deallocate", "later median", "slowest wall", "slowest CPU", "calls", "drain total",
                "one release()"], widths)
        let cases: [(String, ReleaseStrategy, Bool)] = [
            ("dontNeed", .dontNeed, false), ("lazyFree", .lazyFree, false), ("unmap", .unmap, false),
            ("freeThenPageOut (due)", .freeThenPageOut(delay: .zero), false),
            ("dontNeed, THP", .dontNeed, true), ("unmap, THP", .unmap, true),
        ]
        for (name, strategy, huge) in cases {
            // Bounded: the free, then small allocate/deallocate calls (each does its bounded share) until one pair
            // makes no system call.
            let a = PageArena(strategy: strategy, configuration: .init(hugePages: huge))
            let p = try! a.allocate(byteCount: bytes)
            touch(p, bytes)
            var t0 = monotonicNanoseconds()
            a.deallocate(p, byteCount: bytes)
            let freeNs = monotonicNanoseconds() - t0
            var slowest = 0, slowestCPU = 0, calls = 0, drainNs = 0
            var each: [Double] = []
            while calls < 100_000 {
                let before = a.stats
                let c0 = threadCPUNanoseconds()
                t0 = monotonicNanoseconds()
                let q = try! a.allocate(byteCount: 64)
                let t1 = monotonicNanoseconds(), c1 = threadCPUNanoseconds()
                a.deallocate(q, byteCount: 64)
                let t2 = monotonicNanoseconds(), c2 = threadCPUNanoseconds()
                slowest = max(slowest, t1 - t0, t2 - t1)
                slowestCPU = max(slowestCPU, c1 - c0, c2 - c1)
                each += [Double(t1 - t0), Double(t2 - t1)]
                drainNs += t2 - t0
                calls += 2
                let after = a.stats
                if after.madviseCalls + after.munmapCalls == before.madviseCalls + before.munmapCalls { break }
            }
            // Unbounded: the same release in one call.
            let b = PageArena(strategy: .retain, configuration: .init(hugePages: huge))
            let r = try! b.allocate(byteCount: bytes)
            touch(r, bytes)
            b.deallocate(r, byteCount: bytes)
            t0 = monotonicNanoseconds()
            _ = try! b.release(using: strategy)
            let oneNs = monotonicNanoseconds() - t0
            row([name, ms(freeNs), ms(Int(median(each))), ms(slowest), ms(slowestCPU), "\(calls)", ms(drainNs), ms(oneNs)],
                widths)
            BenchJSON.row("latency\(o.latencyMiB)MiB", [
                ("strategy", .string(name)), ("deallocateNs", .int(freeNs)), ("laterMedianNs", .number(median(each))),
                ("slowestWallNs", .int(slowest)), ("slowestCPUNs", .int(slowestCPU)), ("calls", .int(calls)),
                ("drainTotalNs", .int(drainNs)), ("oneReleaseNs", .int(oneNs)),
            ])
        }
        print("\n(ms, wall time unless noted; 'slowest wall' includes being descheduled on a loaded machine, "
              + "'slowest CPU' is the same calls' thread CPU time (user + system); "
              + "bound per call: Configuration.maxReleaseBytesPerCall = 4 MiB of 4 KiB-page DONTNEED-equivalent work, "
              + "weighted by each advice's cost per byte (huge-page DONTNEED/munmap 64 MiB, PAGEOUT 1.3 MiB, …); "
              + "'later calls' are allocate(64)/deallocate(64) pairs, each doing its bounded share of the backlog)")
    }

    // MARK: - Threads sharing one arena

    /// Runs `body(thread)` on `count` POSIX threads at once and returns the wall time until all finished.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> Int {
        final class Job: @unchecked Sendable {
            let body: @Sendable (Int) -> Void
            let index: Int
            init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) { self.body = body; self.index = index }
        }
        var threads: [pthread_t] = []
        let t0 = monotonicNanoseconds()
        for i in 0..<count {
            var t = pthread_t()
            let job = Unmanaged.passRetained(Job(body, i)).toOpaque()
            let rc = pthread_create(&t, nil, { p in
                let j = Unmanaged<Job>.fromOpaque(p!).takeRetainedValue()
                j.body(j.index)
                return nil
            }, job)
            precondition(rc == 0, "pthread_create: \(rc)")
            threads.append(t)
        }
        for t in threads { pthread_join(t, nil) }
        return monotonicNanoseconds() - t0
    }

    /// `pairs` allocate+free pairs of `size` on the calling thread, `batch` live at a time.
    static func churn(_ pairs: Int, batch: Int, allocate: () -> UnsafeMutableRawPointer, free: (UnsafeMutableRawPointer) -> Void) {
        var slots = [UnsafeMutableRawPointer?](repeating: nil, count: batch)
        for _ in 0..<(pairs / batch) {
            for i in 0..<batch {
                let p = allocate()
                p.storeBytes(of: 1, as: UInt8.self)
                slots[i] = p
            }
            for i in 0..<batch { free(slots[i]!) }
        }
    }

    static func threads(_ o: Options) {
        let pairs = o.ops  // per thread
        let batch = 64     // live blocks per thread: allocate 64, free 64, repeat
        print("\n## Threads sharing one arena: \(pairs) allocate+free pairs per thread in batches of \(batch) "
              + "(million pairs per second, all threads together; best of \(o.runs); this machine has 2 vCPUs)\n")
        let widths = [9, 8, 14, 15, 14, 12, 13]
        header(["size", "threads", "arena Mpairs/s", "cached Mpairs/s", "glibc Mpairs/s", "arena/glibc", "cached/glibc"], widths)
        for size in [16, 64, 256, 64 << 10] {
            for n in [1, 2, 4, 8] {
                let arena = PageArena(strategy: .retain)
                let cached = PageArena(strategy: .retain, configuration: .init(threadCache: true))
                var bestArena = 0.0, bestCached = 0.0, bestMalloc = 0.0
                for _ in 0..<o.runs {
                    let ta = onThreads(n) { _ in
                        churn(pairs, batch: batch, allocate: { try! arena.allocate(byteCount: size) },
                              free: { arena.deallocate($0, byteCount: size) })
                    }
                    let tc = onThreads(n) { _ in
                        churn(pairs, batch: batch, allocate: { try! cached.allocate(byteCount: size) },
                              free: { cached.deallocate($0, byteCount: size) })
                    }
                    let tm = onThreads(n) { _ in
                        churn(pairs, batch: batch, allocate: { malloc(size)! }, free: { free($0) })
                    }
                    let total = Double(n * (pairs / batch) * batch)
                    bestArena = max(bestArena, total / Double(ta) * 1e3)
                    bestCached = max(bestCached, total / Double(tc) * 1e3)
                    bestMalloc = max(bestMalloc, total / Double(tm) * 1e3)
                }
                let sizeText = size >= 1024 ? "\(size / 1024) KiB" : "\(size) B"
                row([sizeText, "\(n)", fmt(bestArena, 2), fmt(bestCached, 2), fmt(bestMalloc, 2),
                     fmt(bestArena / bestMalloc, 2) + "×", fmt(bestCached / bestMalloc, 2) + "×"], widths)
                BenchJSON.row("threads", [
                    ("sizeBytes", .int(size)), ("threads", .int(n)), ("arenaMpairsPerSecond", .number(bestArena)),
                    ("arenaThreadCacheMpairsPerSecond", .number(bestCached)), ("glibcMpairsPerSecond", .number(bestMalloc)),
                    ("arenaOverGlibc", .number(bestArena / bestMalloc)), ("threadCacheOverGlibc", .number(bestCached / bestMalloc)),
                ])
            }
        }
        print("\n(arena: one allocation lock; cached: the same with Configuration.threadCache, 16–256 B blocks from "
              + "per-thread caches (64 KiB takes the lock as before); glibc: per-thread tcaches and up to 8 × cores arenas)")
    }
}
