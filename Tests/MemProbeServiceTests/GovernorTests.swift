#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Logging
import MemProbe
import CoreMetrics
import MetricsTestKit
import ServiceLifecycle
import Testing
import MemProbeTestSupport

/// The governor in this process, checked against mincore, statm and the arena's books. Serialized: the tests move
/// this process's RSS and share its published file.
@Suite(.serialized) struct GovernorTests {
    @Test func initStartsNothing() async throws {
        let arena = PageArena(strategy: .decay(delay: .milliseconds(10)))
        let g = try MemoryGovernor(configuration: testConfiguration(arenas: [arena]))
        let p = try arena.allocate(byteCount: 4 * MiB)
        touch(p, 4 * MiB)
        arena.deallocate(p, byteCount: 4 * MiB)
        try await Task.sleep(for: .milliseconds(100))
        #expect(g.state.ticks == 0 && !g.state.running)
        #expect(arena.stats.heapReleasedDiscarded < arena.stats.heapIdle, "nothing released without run()")
    }

    /// A decay arena in an idle process gives its pages back with no call from the application.
    @Test(arguments: [ReleaseStrategy.decay(delay: .milliseconds(200)), .freeThenPageOut(delay: .milliseconds(200))])
    func timersReleaseInAnIdleProcess(_ strategy: ReleaseStrategy) async throws {
        let arena = PageArena(strategy: strategy)
        let g = try MemoryGovernor(configuration: testConfiguration(arenas: [arena]))
        let bytes = 64 * MiB
        try await withRunningGovernor(g) {
            let p = try arena.allocate(byteCount: bytes)
            touch(p, bytes)
            arena.deallocate(p, byteCount: bytes)
            let freed = ContinuousClock.now
            // mincore (independent of the books): resident bytes of the arena's mappings fall to ≤ 2 MiB.
            let released = try await eventually(within: .seconds(3)) { try arena.residentBytes() <= 2 * MiB }
            let resident = try arena.residentBytes()
            #expect(released, "resident \(resident)")
            #expect(ContinuousClock.now - freed < .milliseconds(200) + .seconds(1))
            #expect(arena.stats.heapReleasedDiscarded >= bytes - 2 * MiB)
        }
        #expect(g.state.releasedBytes >= bytes - 2 * MiB)
        #expect(!g.state.running)
    }

    @Test func cancellationAndGracefulShutdownStopIt() async throws {
        let g = try MemoryGovernor(configuration: testConfiguration(arenas: []))
        let task = Task { try await g.run() }
        #expect(await eventually(within: .seconds(2)) { g.state.ticks > 0 })
        task.cancel()
        try await task.value
        #expect(!g.state.running)

        let g2 = try MemoryGovernor(configuration: testConfiguration(arenas: []))
        let group = ServiceGroup(services: [g2], logger: Logger(label: "test"))
        let run = Task { try await group.run() }
        #expect(await eventually(within: .seconds(2)) { g2.state.ticks > 0 })
        await group.triggerGracefulShutdown()
        try await run.value
        #expect(!g2.state.running)
    }

    /// Above the soft limit, idle pages of a `retain` arena (which never releases on its own) are released for good;
    /// statm RSS confirms it.
    @Test func softLimitReleasesIdlePages() async throws {
        let arena = PageArena(strategy: .retain)
        let bytes = 128 * MiB
        let p = try arena.allocate(byteCount: bytes)
        touch(p, bytes)
        arena.deallocate(p, byteCount: bytes)
        let rss = try Statm.read(pid: nil).resident
        // Limit: 64 MiB below the current RSS (which includes the 128 MiB held idle).
        let limit = rss - 64 * MiB
        let g = try MemoryGovernor(configuration: testConfiguration(limit: .bytes(limit), arenas: [arena]))
        #expect(g.state.limitSource == .configuration && g.state.limitBytes == limit)
        try await withRunningGovernor(g) {
            let ok = try await eventually(within: .seconds(3)) { try Statm.read(pid: nil).resident <= limit }
            #expect(ok)
        }
        let s = g.state
        #expect(s.limitReleasedBytes >= 64 * MiB)
        #expect(s.overrunCount == 0)
        #expect(arena.stats.heapReleasedDiscarded >= 64 * MiB)
        #expect(arena.strategy == .retain, "the everyday strategy is unchanged")
    }

    /// Live data above the limit: the governor reports the overrun, backs off, and stays within its CPU budget.
    @Test func overrunBacksOffWithinBudget() async throws {
        let arena = PageArena(strategy: .retain)
        let bytes = 32 * MiB
        let p = try arena.allocate(byteCount: bytes)
        touch(p, bytes)
        defer { arena.deallocate(p, byteCount: bytes) }
        var config = testConfiguration(limit: .bytes(MemoryLimitSetting.minimumBytes), arenas: [arena])
        config.tickInterval = .milliseconds(100)
        config.metricsInterval = .seconds(1)
        config.slowFigureInterval = .seconds(10)
        let g = try MemoryGovernor(configuration: config)
        var warm = GovernorState()
        try await withRunningGovernor(g) {
            try await Task.sleep(for: .milliseconds(500))
            warm = g.state  // steady state from here: the first tick's smaps_rollup and mallinfo2 are behind
            try await Task.sleep(for: .seconds(2))
        }
        let s = g.state
        #expect(s.overrunCount >= 1 && s.overrunCount <= 3, "1 s then 2 s back-off: at most a few attempts in 2.5 s")
        #expect(s.backingOff)
        #expect(s.lastOverrun?.limitBytes == MemoryLimitSetting.minimumBytes)
        #expect((s.lastOverrun?.watchedBytes ?? 0) > bytes)
        let share = Double(s.cpuNanoseconds - warm.cpuNanoseconds) / Double(s.runNanoseconds - warm.runNanoseconds)
        if !TestEnvironment.isSanitized { #expect(share <= 0.01, "governor CPU \(share * 100) % of a core while backing off") }
    }

    /// Metrics read with swift-metrics' test kit equal the arena's books and the kernel's figures.
    @Test func metricsMatchArenaStatsAndKernel() async throws {
        let arena = PageArena(strategy: .dontNeed)
        arena.label = "metrics-test"
        let metrics = TestMetrics()
        let g = try MemoryGovernor(configuration: testConfiguration(arenas: [arena]), metricsFactory: metrics)
        let p = try arena.allocate(byteCount: 8 * MiB + 100)
        touch(p, 8 * MiB)
        let q = try arena.allocate(byteCount: 4 * MiB)
        arena.deallocate(q, byteCount: 4 * MiB)
        defer { arena.deallocate(p, byteCount: 8 * MiB + 100) }
        try await withRunningGovernor(g) {
            _ = await eventually(within: .seconds(2)) { g.state.ticks >= 3 }
        }
        let s = arena.stats  // the arena is idle: the same figures the last tick saw
        let d = [("arena", "metrics-test")]
        #expect(try metrics.expectGauge("memprobe_arena_alloc_bytes", d).lastValue == Double(s.alloc))
        #expect(try metrics.expectGauge("memprobe_arena_heap_inuse_bytes", d).lastValue == Double(s.heapInuse))
        #expect(try metrics.expectGauge("memprobe_arena_heap_idle_bytes", d).lastValue == Double(s.heapIdle))
        #expect(try metrics.expectGauge("memprobe_arena_sys_bytes", d).lastValue == Double(s.sys))
        #expect(try metrics.expectGauge("memprobe_arena_heap_released_bytes", d + [("kind", "discarded")]).lastValue
            == Double(s.heapReleasedDiscarded))
        #expect(try metrics.expectGauge("memprobe_arena_heap_released_bytes", d + [("kind", "lazy")]).lastValue
            == Double(s.heapReleasedLazy))
        #expect(try metrics.expectCounter("memprobe_arena_madvise_calls_total", d).totalValue == Int64(s.madviseCalls))
        #expect(try metrics.expectCounter("memprobe_arena_munmap_calls_total", d).totalValue == Int64(s.munmapCalls))
        // Process figures against statm and smaps_rollup read now (RSS moves a little between the two reads).
        let rss = try #require(try metrics.expectGauge("memprobe_rss_bytes").lastValue)
        #expect(abs(Int(rss) - (try Statm.read(pid: nil).resident)) < 16 * MiB)
        let kernel = try MemStats.capture()
        if let anon = kernel.anonymous {
            let gauge = try #require(try metrics.expectGauge("memprobe_anonymous_bytes").lastValue)
            #expect(abs(Int(gauge) - anon) < 16 * MiB)
        }
        if let lazy = kernel.lazyFree {
            #expect(try metrics.expectGauge("memprobe_lazy_free_bytes").lastValue.map { abs(Int($0) - lazy) < 16 * MiB } == true)
        }
        if let c = kernel.cgroup {
            let usage = try #require(try metrics.expectGauge("memprobe_cgroup_usage_bytes").lastValue)
            #expect(abs(Int(usage) - c.usage) < 64 * MiB)
        }
        #expect(try metrics.expectGauge("memprobe_malloc_in_use_bytes").lastValue != nil)
        #expect(try metrics.expectCounter("memprobe_governor_released_bytes_total").totalValue == Int64(g.state.releasedBytes))
        #expect(metrics.counters.contains { $0.label == "memprobe_governor_cpu_seconds_total" })
    }

    /// The governor ticking every millisecond while 8 threads allocate and free in the arena (ASan, TSan).
    @Test func tickingWhileEightThreadsAllocate() async throws {
        let arena = PageArena(strategy: .decay(delay: .milliseconds(1)), configuration: .init(regionSize: 4 * MiB))
        var config = testConfiguration(limit: .off, arenas: [arena], publish: true)
        config.tickInterval = .milliseconds(1)
        config.minimumTickInterval = .microseconds(200)
        config.cpuBudget = 1
        let metrics = TestMetrics()
        let g = try MemoryGovernor(configuration: config, metricsFactory: metrics)
        try await withRunningGovernor(g) {
            await withTaskGroup(of: Void.self) { group in
                for t in 0..<8 {
                    group.addTask {
                        var rng = UInt64(t + 1) &* 0x9e37_79b9_7f4a_7c15
                        var live: [(UnsafeMutableRawPointer, Int)] = []
                        for _ in 0..<3000 {
                            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                            if live.count > 32 || (rng & 3 == 0 && !live.isEmpty) {
                                let (p, n) = live.removeLast()
                                arena.deallocate(p, byteCount: n)
                            } else {
                                let n = [24, 700, 3000, 9000, 70_000][Int(rng >> 32) % 5]
                                guard let p = try? arena.allocate(byteCount: n) else { continue }
                                touch(p, n)
                                live.append((p, n))
                            }
                        }
                        for (p, n) in live { arena.deallocate(p, byteCount: n) }
                    }
                }
            }
            _ = await eventually(within: .seconds(2)) { arena.stats.heapReleased == arena.stats.heapIdle }
        }
        let s = arena.stats
        #expect(s.alloc == 0)
        #expect(s.heapInuse + s.heapIdle == s.sys)
        #expect(g.state.ticks > 10)
    }

    /// A tool's request written into the published file reaches the governor's hook; the reply comes back.
    @Test func requestReachesTheHook() async throws {
        var config = testConfiguration(arenas: [], publish: true)
        let seen = PthreadLock<[PublishedRequest]>([])
        config.requestHandler = { request in
            seen.withLock { $0.append(request) }
            return request.path.hasSuffix(".pb.gz") ? 0 : EINVAL
        }
        let g = try MemoryGovernor(configuration: config)
        try await withRunningGovernor(g) {
            #expect(await eventually(within: .seconds(2)) { (try? PublishedStatsReader.read(pid: getpid())) != nil })
            let seq = try PublishedRequestClient.send(pid: getpid(), kind: PublishedRequest.heapProfile, path: "/tmp/heap.pb.gz")
            #expect(await eventually(within: .seconds(2)) { (try? PublishedRequestClient.reply(pid: getpid()).sequence) == seq })
            #expect(try PublishedRequestClient.reply(pid: getpid()).status == 0)
            let seq2 = try PublishedRequestClient.send(pid: getpid(), kind: PublishedRequest.heapProfile, path: "/tmp/x")
            #expect(await eventually(within: .seconds(2)) { (try? PublishedRequestClient.reply(pid: getpid()).sequence) == seq2 })
            #expect(try PublishedRequestClient.reply(pid: getpid()).status == Int64(EINVAL))
        }
        let requests = seen.withLock { $0 }
        #expect(requests.map(\.path) == ["/tmp/heap.pb.gz", "/tmp/x"])
        #expect(requests.allSatisfy { $0.kind == PublishedRequest.heapProfile })
    }

    /// The published file: the arena's figures as the arena reports them, the governor's state, owner-only, gone
    /// after shutdown.
    @Test func publishedFileRoundTrip() async throws {
        let arena = PageArena(strategy: .dontNeed)
        arena.label = "published-test"
        let p = try arena.allocate(byteCount: 3 * MiB)
        defer { arena.deallocate(p, byteCount: 3 * MiB) }
        let g = try MemoryGovernor(configuration: testConfiguration(limit: .bytes(64 << 30), arenas: [arena], publish: true))
        let path = PublishedStatsLocation.path(pid: getpid(), uid: geteuid())
        try await withRunningGovernor(g) {
            #expect(await eventually(within: .seconds(2)) { (try? PublishedStatsReader.read(pid: getpid()))?.governor?.ticks ?? 0 > 1 })
            let published = try PublishedStatsReader.read(pid: getpid())
            let a = try #require(published.arenas.first { $0.name == "published-test" })
            #expect(a.stats == arena.stats)
            #expect(a.strategy == "dontNeed")
            #expect(published.governor?.limitBytes == 64 << 30)
            #expect(published.governor?.limitSource == .configuration)
            #expect(published.pid == getpid())
            var st = stat()
            #expect(stat(path, &st) == 0)
            #expect(st.st_mode & 0o777 == 0o600)
            #expect(stat(PublishedStatsLocation.directory(uid: geteuid()), &st) == 0 && st.st_mode & 0o777 == 0o700)
            // MemStats for our own pid through the "another process" path sees the same arena.
            let snap = try MemStats.capture(pid: getpid())
            #expect(snap.arenas.isEmpty, "for the calling process, arenas are only those passed in")
        }
        var st = stat()
        #expect(stat(path, &st) != 0, "removed at shutdown")
    }
}
