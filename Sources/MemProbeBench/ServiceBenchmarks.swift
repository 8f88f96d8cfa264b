#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CoreMetrics
import MemProbe
import MemProbeCompare
import Synchronization

/// `memprobe-bench service [--seconds N]`: what the service layer costs, with baselines from the same run.
///
/// - governor CPU over N seconds (default 60) idle and under allocation churn, as a share of one core (goal ≤ 1 %);
/// - one metrics update and one publish, beside one `getppid()` system call (goal: publish ≤ 1 µs, no syscall);
/// - `MemStats.capture(pid:)` of a process that publishes vs one that does not (same binary, same arena).
enum ServiceBenchmarks {
    static func run(_ args: [String]) async {
        var seconds = 60.0
        var i = 0
        while i < args.count {
            if args[i] == "--seconds", i + 1 < args.count, let s = Double(args[i + 1]), s > 0, s <= 3600 {
                seconds = s
                i += 2
            } else {
                print("usage: memprobe-bench service [--seconds N]   (N: governor measurement time, default 60)")
                exit(64)
            }
        }
        print("memprobe-bench service — governor CPU over \(seconds) s per phase; medians of repeated calls\n")
        var t = TextTable(headers: ["what", "value", "ratio / share"])

        // 1. Governor CPU, idle: one decay arena holding 64 MiB idle, defaults (100 ms tick, metrics every 1 s, publishing).
        let arena = PageArena(strategy: .decay(delay: .seconds(1)))
        arena.label = "bench"
        let held = try! arena.allocate(byteCount: 64 << 20)
        memset(held, 1, 64 << 20)
        let factory = CountingMetricsFactory()
        let idle = await governorShare(seconds: seconds, arena: arena, factory: factory, churn: false)
        t.append(["governor CPU, idle process", "\(ms(idle.cpu)) ms in \(idle.ticks) ticks", "\(percent(idle.share)) % of a core"])
        // 2. Under churn: 2 threads allocate and free 1–64 KiB blocks and 1 MiB runs in the arena continuously.
        let busy = await governorShare(seconds: seconds, arena: arena, factory: factory, churn: true)
        t.append(["governor CPU, allocation churn (\(busy.ops / max(Int(seconds), 1)) ops/s)", "\(ms(busy.cpu)) ms in \(busy.ticks) ticks, released \(ByteFormat.human(busy.released))", "\(percent(busy.share)) % of a core"])
        arena.deallocate(held, byteCount: 64 << 20)

        // 3. One metrics update, one publish, beside one system call.
        let syscall = SnapshotBenchmarks.median(20_000) { _ = getppid() }
        let metrics = GovernorMetrics(factory: factory)
        let registered = PageArena.liveArenas.filter { $0.label == "bench" }
        var state = GovernorState()
        var process = ProcessFigures()
        process.rss = 100 << 20
        let update = SnapshotBenchmarks.median(20_000) {
            state.ticks += 1
            metrics.update(arenas: registered.map { ($0, $0.arena.stats) }, process: process, governor: state)
        }
        t.append(["getppid() system call (baseline)", "\(syscall) ns", "1.00"])
        t.append(["one metrics update (1 arena, all gauges)", "\(update) ns", SnapshotBenchmarks.ratio(update, syscall)])
        if let publisher = try? StatsFilePublisher.create() {
            let publish = SnapshotBenchmarks.median(100_000) { publisher.publish(arenas: registered, governor: state) }
            t.append(["one publish (1 arena + governor, no syscall)", "\(publish) ns", SnapshotBenchmarks.ratio(publish, syscall)])
            publisher.remove()
        } else {
            t.append(["one publish", "not measured: publishing unavailable here", "—"])
        }

        // 4. snapshot <pid> of a process that publishes vs one that does not.
        if let with = BenchChild.spawn(["_serve", "publish"]), let without = BenchChild.spawn(["_serve", "quiet"]) {
            defer { for p in [with, without] { BenchChild.stop(p) } }
            let plain = SnapshotBenchmarks.median(200) { _ = try? MemStats.capture(pid: without, mode: .full) }
            let published = SnapshotBenchmarks.median(200) { _ = try? MemStats.capture(pid: with, mode: .full) }
            let plainFast = SnapshotBenchmarks.median(400) { _ = try? MemStats.capture(pid: without, mode: .fast) }
            let publishedFast = SnapshotBenchmarks.median(400) { _ = try? MemStats.capture(pid: with, mode: .fast) }
            let arenas = (try? MemStats.capture(pid: with, mode: .fast))?.arenas.count ?? 0
            t.append(["snapshot <pid>, process without memprobe (baseline)", "\(plain) ns", "1.00"])
            t.append(["snapshot <pid>, publishing process (\(arenas) arena(s) read)", "\(published) ns", SnapshotBenchmarks.ratio(published, plain)])
            t.append(["snapshot --fast <pid>, without (baseline)", "\(plainFast) ns", "1.00"])
            t.append(["snapshot --fast <pid>, publishing", "\(publishedFast) ns", SnapshotBenchmarks.ratio(publishedFast, plainFast)])
        }
        print(t.render())
    }

    static func ms(_ ns: Int) -> String { ByteFormat.oneDecimal(Double(ns) / 1e6) }
    static func percent(_ share: Double) -> String {
        let thousandths = Int((share * 100_000).rounded())
        return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - String(thousandths % 1000).count))\(thousandths % 1000)"
    }

    struct Share { var cpu: Int; var run: Int; var ticks: Int; var released: Int; var ops: Int; var share: Double }

    static func governorShare(seconds: Double, arena: PageArena, factory: CountingMetricsFactory, churn: Bool) async -> Share {
        var config = MemoryGovernor.Configuration(memoryLimit: .off)
        config.arenas = [arena]
        let governor = try! MemoryGovernor(configuration: config, metricsFactory: factory)
        let flags = ChurnFlags()
        let task = Task { try await governor.run() }
        var threads: [pthread_t] = []
        if churn {
            for t in 0..<2 {
                threads.append(startThread {
                    var rng = SplitMix64(seed: UInt64(t + 1))
                    var live: [(UnsafeMutableRawPointer, Int)] = []
                    var n = 0
                    while !flags.stop.load(ordering: .relaxed) {
                        if live.count >= 256 || (!live.isEmpty && rng.next() & 1 == 0) {
                            let (p, size) = live.swapRemoveLast(at: Int(rng.next() % UInt64(live.count)))
                            arena.deallocate(p, byteCount: size)
                        } else {
                            let size = rng.next() & 15 == 0 ? 1 << 20 : 1024 << Int(rng.next() % 7)
                            if let p = try? arena.allocate(byteCount: size) {
                                memset(p, 1, min(size, 64 << 10))
                                live.append((p, size))
                            }
                        }
                        n += 1
                    }
                    for (p, size) in live { arena.deallocate(p, byteCount: size) }
                    flags.ops.add(n, ordering: .relaxed)
                })
            }
        }
        try? await Task.sleep(for: .seconds(seconds))
        flags.stop.store(true, ordering: .relaxed)
        for th in threads { pthread_join(th, nil) }
        task.cancel()
        try? await task.value
        let s = governor.state
        return Share(cpu: s.cpuNanoseconds, run: s.runNanoseconds, ticks: s.ticks, released: s.releasedBytes,
                     ops: flags.ops.load(ordering: .relaxed), share: s.cpuShare)
    }

    final class ChurnFlags: Sendable {
        let stop = Atomic<Bool>(false)
        let ops = Atomic<Int>(0)
    }

    final class Body: @unchecked Sendable {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// A plain pthread (the churn must not occupy the cooperative pool the benchmark's own task sleeps on).
    static func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create: \(rc)")
        return thread
    }

    /// `memprobe-bench _publish N`: creates the published file and publishes N times, nothing else — run it under
    /// `strace -c` with two values of N: the same system-call count shows that a publish makes none.
    static func publishOnly(_ args: [String]) -> Never {
        let n = args.first.flatMap { Int($0) } ?? 1000
        let arena = PageArena(strategy: .dontNeed)
        arena.label = "bench"
        let registered = PageArena.liveArenas.filter { $0.label == "bench" }
        guard let publisher = try? StatsFilePublisher.create() else { exit(1) }
        var state = GovernorState()
        for i in 0..<n {
            state.ticks = i
            publisher.publish(arenas: registered, governor: state)
        }
        publisher.remove()
        exit(0)
    }

    /// `memprobe-bench _serve publish|quiet` (a ``BenchChild``): an arena with 32 MiB and a governor, publishing or not.
    static func serve(_ args: [String]) async -> Never {
        let arena = PageArena(strategy: .dontNeed)
        arena.label = "served"
        let p = try! arena.allocate(byteCount: 32 << 20)
        memset(p, 1, 32 << 20)
        var config = MemoryGovernor.Configuration(memoryLimit: .off)
        config.publish = args.first == "publish"
        let governor = try! MemoryGovernor(configuration: config)
        let task = Task { try await governor.run() }
        try? await Task.sleep(for: .milliseconds(300))
        BenchChild.signalReady()
        _ = await task.result
        exit(0)
    }
}

extension Array {
    mutating func swapRemoveLast(at i: Int) -> Element {
        swapAt(i, count - 1)
        return removeLast()
    }
}

/// A minimal metrics backend for the benchmark: every handler stores its last value in an atomic (what a real
/// backend's cheapest path does), so the figure is the library's own cost.
final class CountingMetricsFactory: MetricsFactory, Sendable {
    final class Handler: CounterHandler, RecorderHandler, TimerHandler, Sendable {
        let value = Atomic<Int64>(0)
        func increment(by amount: Int64) { value.add(amount, ordering: .relaxed) }
        func reset() { value.store(0, ordering: .relaxed) }
        func record(_ v: Int64) { value.store(v, ordering: .relaxed) }
        func record(_ v: Double) { value.store(Int64(v), ordering: .relaxed) }
        func recordNanoseconds(_ duration: Int64) { value.store(duration, ordering: .relaxed) }
    }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { Handler() }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { Handler() }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Handler() }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
