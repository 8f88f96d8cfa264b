import CShims
import MemProbe
import MemProbeArena
import MemProbeMap
import MemProbeProfile
import MemProbeSystem
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `memprobe-bench profile`: what heap profiling costs (docs/heap-profile.md).
///
/// 1. One sample (libunwind unw_backtrace + intern + live-table insert + retire) against glibc `backtrace()` on the
///    same stack, same run.
/// 2. ArenaMap insert (Int→Int and Int→1 KiB, fresh map, no reserve) with the arena sampling at the default rate
///    against the same arena configuration with sampling off, interleaved runs, best of each.
/// 3. Writing a profile (symbolise, encode, gzip) of 10,000 distinct stacks.
enum ProfileBenchmarks {
    struct Options {
        var entries = 1_000_000
        var kibEntries = 200_000
        var runs = 15
        var depth = 20
        var stacks = 10_000
        var write: String? = nil
    }

    static func run(_ arguments: [String]) {
        var o = Options()
        var i = 0
        while i < arguments.count {
            let next = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--entries": o.entries = max(1000, Int(next) ?? o.entries); i += 1
            case "--kib-entries": o.kibEntries = max(1000, Int(next) ?? o.kibEntries); i += 1
            case "--runs": o.runs = max(1, Int(next) ?? o.runs); i += 1
            case "--depth": o.depth = min(max(1, Int(next) ?? o.depth), 50); i += 1
            case "--stacks": o.stacks = max(1, Int(next) ?? o.stacks); i += 1
            case "--write": o.write = next; i += 1
            default:
                print("usage: memprobe-bench profile [--entries N] [--kib-entries N] [--runs N] [--depth N] [--stacks N] [--write FILE]")
                return
            }
            i += 1
        }
        guard Backtrace.isAvailable else {
            print("libunwind.so.8 is not installed: heap profiling is unavailable")
            return
        }
        print("pid \(getpid()), MEMPROBE_PROFILE_RATE default \(HeapProfileRate.processDefault) bytes\n")
        if let path = o.write {
            writeExample(to: path)
            return
        }
        sampleCost(depth: o.depth)
        hookCost = measureHookCost()
        mapOverhead(o)
        writeTime(stacks: o.stacks, depth: o.depth)
    }

    // MARK: - Example profile (README)

    /// A small service-like heap in the shared arena: a 40,000-entry cache of 1 KiB values and a pool of
    /// 48 × 1 MiB buffers; then the process writes its own profile, as a governor hook does.
    static func writeExample(to path: String) {
        let cache = fillSessionCache(entries: 40_000)
        let pool = fillBufferPool(buffers: 48)
        do {
            try HeapProfile.write(toPath: path)
        } catch {
            print("memprobe-bench: \(error)")
            return
        }
        let s = PageArena.shared.stats
        print("wrote \(path): shared arena Alloc \(s.alloc) bytes (cache \(cache.count) entries, \(pool.count) buffers)")
    }

    @inline(never)
    static func fillSessionCache(entries: Int) -> ArenaMap<Int, MapBenchmarks.KiB> {
        var m = ArenaMap<Int, MapBenchmarks.KiB>()
        for k in 0..<entries { m[k] = MapBenchmarks.KiB(k) }
        return m
    }

    @inline(never)
    static func fillBufferPool(buffers: Int) -> [UnsafeMutableRawPointer] {
        (0..<buffers).map { _ in try! PageArena.shared.allocate(byteCount: 1 << 20) }
    }

    // MARK: - 1. Cost per sample

    static func sampleCost(depth: Int) {
        var c = PageArena.Configuration()
        c.heapProfileInterval = HeapProfileRate.defaultInterval
        let arena = PageArena(configuration: c)
        let sampler = arena.heapSampler!
        let iterations = 20_000
        var results: (sample: Double, unw: Double, glibc: Double, record: Double, frames: Int, glibcFrames: Int) = (0, 0, 0, 0, 0, 0)
        recurse(depth) {
            var frames = [UnsafeMutableRawPointer?](repeating: nil, count: Int(CSHIMS_HEAP_SAMPLE_MAX_FRAMES))
            // Warm up all three (first calls load and cache unwind tables).
            for k in 0..<100 {
                sampler.sampleNow(address: UInt(0x1000 + k * 16), byteCount: 4096)
                sampler.willDeallocate(UInt(0x1000 + k * 16))
                _ = frames.withUnsafeMutableBufferPointer { cshims_glibc_backtrace($0.baseAddress, Int32($0.count)) }
            }
            var best = (Double.infinity, Double.infinity, Double.infinity, Double.infinity)
            let given: [UInt] = (try? Backtrace.capture(maxFrames: 64).addresses) ?? [1]
            for _ in 0..<5 {
                let t0 = monotonicNanoseconds()
                for k in 0..<iterations {
                    sampler.sampleNow(address: UInt(0x1000 + k * 16), byteCount: 4096)
                    sampler.willDeallocate(UInt(0x1000 + k * 16))
                }
                let t1 = monotonicNanoseconds()
                var n = 0
                for _ in 0..<iterations { n = frames.withUnsafeMutableBufferPointer { Backtrace.capture(into: $0) } }
                let t2 = monotonicNanoseconds()
                var g: Int32 = 0
                for _ in 0..<iterations { g = frames.withUnsafeMutableBufferPointer { cshims_glibc_backtrace($0.baseAddress, Int32($0.count)) } }
                let t3 = monotonicNanoseconds()
                for k in 0..<iterations {
                    sampler.recordForTesting(address: UInt(0x1000 + k * 16), byteCount: 4096, frames: given)
                    sampler.willDeallocate(UInt(0x1000 + k * 16))
                }
                let t4 = monotonicNanoseconds()
                best = (min(best.0, Double(t1 - t0)), min(best.1, Double(t2 - t1)), min(best.2, Double(t3 - t2)), min(best.3, Double(t4 - t3)))
                results.frames = n
                results.glibcFrames = Int(g)
            }
            results.sample = best.0 / Double(iterations)
            results.unw = best.1 / Double(iterations)
            results.glibc = best.2 / Double(iterations)
            results.record = best.3 / Double(iterations)
            sampleNanoseconds = results.sample
        }
        print("## Cost per sample (stack of \(results.frames) frames; \(depth) recursive frames + the caller chain; best of 5 × \(iterations))\n")
        print("| what | ns per call | vs glibc backtrace() |")
        print("|---|---|---|")
        print("| sample: unw_backtrace + intern + record + retire | \(fmt(results.sample)) | \(fmt3(results.sample / results.glibc))× |")
        print("| unw_backtrace alone (\(results.frames) frames) | \(fmt(results.unw)) | \(fmt3(results.unw / results.glibc))× |")
        print("| glibc backtrace() (\(results.glibcFrames) frames) | \(fmt(results.glibc)) | 1.000× |")
        print("| record + retire of a given \(results.frames)-frame stack (no unwind) | \(fmt(results.record)) | \(fmt3(results.record / results.glibc))× |")
        print("")
    }

    @inline(never)
    static func recurse(_ n: Int, _ body: () -> Void) {
        if n == 0 { body() } else { recurse(n - 1, body) }
        blackHole(n)
    }

    @inline(never)
    static func blackHole(_ x: Int) { if x == -42 { print("") } }

    // MARK: - 2. Overhead on map inserts

    /// ns of the per-call hook when no sample is taken: the countdown on allocate plus the filter load on free.
    nonisolated(unsafe) static var hookCost = 0.0
    /// ns of one whole sample (unwind + record + retire), from `sampleCost`.
    nonisolated(unsafe) static var sampleNanoseconds = 0.0

    static func measureHookCost() -> Double {
        var c = PageArena.Configuration()
        c.heapProfileInterval = 1 << 40  // a sample every TiB: only the hook's fast paths run
        let arena = PageArena(configuration: c)
        let sampler = arena.heapSampler!
        let n = 10_000_000
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = monotonicNanoseconds()
            for i in 0..<n {
                sampler.didAllocate(UInt(0x1000 + i & 0xffff) << 4, byteCount: 64)
                sampler.willDeallocate(UInt(0x1000 + i & 0xffff) << 4)
            }
            best = min(best, Double(monotonicNanoseconds() - t0) / Double(n))
        }
        print("Hook fast path (countdown on allocate + filter load on deallocate, no sample): \(fmt(best)) ns per allocate/free pair (best of 5 × 10M)\n")
        return best
    }

    static func mapOverhead(_ o: Options) {
        print("## Default-rate sampling overhead (fresh map, no reserve; \(o.runs) interleaved off/on pairs, order alternating)\n")
        print("| workload | off ns/op (best) | on ns/op (best) | overhead, best vs best | overhead, median of pair ratios | arena calls per run | computed overhead |")
        print("|---|---|---|---|---|---|---|")
        let keys = (0..<o.entries).map { MapBenchmarks.Keys.mix(UInt64($0)) }
        row("ArenaMap Int→Int insert, \(o.entries) entries", runs: o.runs, ops: keys.count) { arena in
            var m = ArenaMap<Int, Int>(arena: arena)
            let t = MapBenchmarks.time { for k in keys { m[k] = k } }
            precondition(m.count == keys.count)
            return t
        }
        let kibKeys = Array(keys.prefix(o.kibEntries))
        row("ArenaMap Int→1 KiB insert, \(o.kibEntries) entries", runs: o.runs, ops: kibKeys.count) { arena in
            var m = ArenaMap<Int, MapBenchmarks.KiB>(arena: arena)
            let t = MapBenchmarks.time { for k in kibKeys { m[k] = MapBenchmarks.KiB(k) } }
            precondition(m.count == kibKeys.count)
            return t
        }
        // The worst case for the hook: nothing but arena calls (a 64-byte block allocated and freed).
        let calls = o.entries
        row("PageArena allocate+deallocate 64 B (worst case)", runs: o.runs, ops: calls) { arena in
            MapBenchmarks.time {
                for _ in 0..<calls {
                    let p = try! arena.allocate(byteCount: 64)
                    arena.deallocate(p, byteCount: 64)
                }
            }
        }
        print("")
    }

    /// Counts the arena calls a workload makes (a sampler at 1-byte interval records every one; run once).
    static func row(_ name: String, runs: Int, ops: Int, _ body: (PageArena) -> Double) {
        func arena(_ interval: Int) -> PageArena {
            var c = PageArena.Configuration()
            c.heapProfileInterval = interval
            return PageArena(strategy: .dontNeed, configuration: c)
        }
        let off = arena(0), on = arena(HeapProfileRate.defaultInterval)
        var offTimes: [Double] = [], onTimes: [Double] = []
        for r in 0..<(2 * runs) {
            // Alternate which of a pair goes first, so drift in the machine's speed hits both alike.
            let sampling = (r % 2 == 0) == (r / 2 % 2 == 0)
            let a = sampling ? on : off
            let t = body(a)
            _ = try? a.release()
            if sampling { onTimes.append(t) } else { offTimes.append(t) }
        }
        if getenv("MEMPROBE_BENCH_VERBOSE") != nil {
            print("off: " + offTimes.map { fmt($0 / Double(ops)) }.joined(separator: " "))
            print("on:  " + onTimes.map { fmt($0 / Double(ops)) }.joined(separator: " "))
        }
        let ratios = zip(offTimes, onTimes).map { $1 / $0 }.sorted()
        let median = ratios[ratios.count / 2]
        let n = Double(ops)
        let bestOff = offTimes.min()!, bestOn = onTimes.min()!
        // Arena calls: every allocate is sampled at a 1-byte interval with p ≈ 1 for blocks ≥ 64 B.
        let counter = arena(1)
        _ = body(counter)
        let (_, _, _, _) = counter.heapSampler!.counters
        let stacks = counter.heapSampler!.stacks()
        let calls = Int(stacks.reduce(0.0) { $0 + $1.allocObjects }.rounded())
        let bytes = stacks.reduce(0.0) { $0 + $1.allocBytes }
        // What sampling must cost: every call pays the hook, and bytes/512 KiB calls on average pay a whole sample.
        let expectedSamples = bytes / Double(HeapProfileRate.defaultInterval)
        let computed = (Double(calls) * hookCost + expectedSamples * sampleNanoseconds) / bestOff
        print("| \(name) | \(fmt(bestOff / n)) | \(fmt(bestOn / n)) | \(fmt(100 * (bestOn / bestOff - 1)))% | \(fmt(100 * (median - 1)))% | \(calls) allocations, \(Int(bytes) >> 20) MiB | \(MapBenchmarks.Fmt.fixed3(100 * computed))% |")
    }

    // MARK: - 3. Profile write time

    static func writeTime(stacks: Int, depth: Int) {
        var c = PageArena.Configuration()
        c.heapProfileInterval = HeapProfileRate.defaultInterval
        let arena = PageArena(configuration: c)
        let sampler = arena.heapSampler!
        var base: [UInt] = []
        recurse(depth) { base = (try? Backtrace.capture(maxFrames: 64).addresses) ?? [] }
        precondition(base.count >= 4, "could not capture a stack")
        // Distinct stacks from real code addresses: the two innermost frames move through their functions.
        for i in 0..<stacks {
            var f = base
            f[0] = base[0] &+ UInt(i % 100)
            f[1] = base[1] &+ UInt(i / 100 % 100)
            f[2] = base[2] &+ UInt(i / 10_000)
            sampler.recordForTesting(address: UInt(0x10_0000 + i * 64), byteCount: 1 << 20, frames: f)
        }
        var best = Double.infinity
        var bytes = 0
        var locations = 0
        for _ in 0..<5 {
            let t0 = monotonicNanoseconds()
            let profile = HeapProfile.build(samplers: [sampler])
            let gz = Gzip.compress(profile.encoded())
            best = min(best, Double(monotonicNanoseconds() - t0))
            bytes = gz.count
            locations = profile.locations.count
        }
        print("## Profile write time (\(sampler.counters.stacks) distinct stacks of \(base.count) frames, \(locations) locations; best of 5)\n")
        print("| what | time | gzip'ed size |")
        print("|---|---|---|")
        print("| symbolise (maps + ELF symtab + demangle) + encode + gzip | \(fmt(best / 1e6)) ms | \(bytes / 1024) KiB |")
        print("")
    }

    static func fmt(_ v: Double) -> String { MapBenchmarks.Fmt.fixed1(v) }
    static func fmt3(_ v: Double) -> String { MapBenchmarks.Fmt.fixed3(v) }
}
