#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Logging
import MemProbeArena
import MemProbeSystem

/// The governor's thread: one tick per wake-up (deferred work, soft limit, figures, metrics, publishing, requests),
/// then a timed wait until the next arena deadline or the tick interval, whichever comes first.
final class GovernorLoop {
    let governor: MemoryGovernor
    let config: MemoryGovernor.Configuration
    var state: GovernorState
    var publisher: StatsFilePublisher?
    var statm: StatmSampler?
    var process = ProcessFigures()
    /// CPU nanoseconds the governor may still spend on release work (refilled at `cpuBudget` of wall time).
    var cpuTokens: Double
    /// Bytes it may still release (refilled at `maxReleaseBytesPerSecond`).
    var byteTokens: Double
    var lastRefill = 0
    var lastMetrics = Int.min / 2
    var lastSlow = Int.min / 2
    var lastTrim = Int.min / 2
    var lastWarning = Int.min / 2
    var backOff = 0
    var backOffUntil = 0
    var startWall = 0
    var startCPU = 0

    init(governor: MemoryGovernor) {
        self.governor = governor
        self.config = governor.configuration
        self.state = governor.state
        cpuTokens = Self.cpuCapacity(config)
        byteTokens = Double(max(config.maxReleaseBytesPerSecond, VirtualMemory.pageSize))
    }

    static func cpuCapacity(_ c: MemoryGovernor.Configuration) -> Double {
        Double(c.cpuWindow.nanosecondsClamped) * max(c.cpuBudget, 0)
    }

    func run() {
        startWall = monotonicNanoseconds()
        startCPU = threadCPUNanoseconds()
        lastRefill = startWall
        if config.publish {
            do { publisher = try StatsFilePublisher.create() } catch {
                governor.logger.debug("memprobe: not publishing figures: \(error)")
            }
        }
        statm = try? StatmSampler(pid: nil)
        state.running = true
        governor.logger.debug("memprobe governor started", metadata: [
            "limit": "\(state.limitBytes.map { ByteFormat.human($0) } ?? "none")", "source": "\(state.limitSource.rawValue)",
            "watched": "\(state.watched.rawValue)", "published": "\(publisher?.path ?? "no")",
        ])
        while !governor.shared.withLock({ $0.stopRequested }) {
            let wake = tick()
            governor.shared.wait(untilMonotonicNanoseconds: wake) { !$0.stopRequested }
        }
        state.running = false
        state.cpuNanoseconds = threadCPUNanoseconds() - startCPU
        state.runNanoseconds = monotonicNanoseconds() - startWall
        let final = state
        governor.shared.withLock { $0.state = final }
        publisher?.remove()
        publisher = nil
        statm?.close()
        governor.logger.debug("memprobe governor stopped", metadata: ["released": "\(state.releasedBytes)"])
    }

    var arenas: [RegisteredArena] {
        let live = PageArena.liveArenas
        guard let chosen = config.arenas else { return live }
        let ids = Set(chosen.map { ObjectIdentifier($0) })
        return live.filter { ids.contains(ObjectIdentifier($0.arena)) }
    }

    /// One pass; returns the monotonic time to wake at.
    func tick() -> Int {
        let now = monotonicNanoseconds()
        let cpu0 = threadCPUNanoseconds()
        refill(now)
        let arenas = self.arenas
        let minimumWait = config.minimumTickInterval.nanosecondsClamped
        var wake = now + max(config.tickInterval.nanosecondsClamped, minimumWait)

        // 1. The arenas' own timers and deferred releases.
        for a in arenas {
            guard let due = a.arena.nextDeadlineNanoseconds else { continue }
            if due > now {
                wake = min(wake, due)
                continue
            }
            guard cpuTokens > 0, byteTokens >= Double(VirtualMemory.pageSize) else { continue }  // budget spent
            do {
                let r = try a.arena.performDeferredWork(budgetBytes: Int(byteTokens))
                byteTokens -= Double(r.releasedBytes)
                state.releasedBytes += r.releasedBytes
                state.releaseCalls += r.madviseCalls
            } catch {
                governor.logger.debug("memprobe: deferred release failed", metadata: ["arena": "\(a.label)", "error": "\(error)"])
            }
            if let next = a.arena.nextDeadlineNanoseconds { wake = min(wake, max(next, now + minimumWait)) }
        }

        // 2. Figures.
        var stats = arenas.map { ($0, $0.arena.stats) }
        process.rss = try? statm?.residentBytes()
        if now - lastSlow >= config.slowFigureInterval.nanosecondsClamped {
            lastSlow = now
            if let m = try? ProcessMemory.read(pid: nil, mode: .full), let r = m.rollup {
                process.lazyFree = r.lazyFree
                process.anonymous = r.anonymous
            }
            let info = MallocHeap.info()
            process.mallocInUse = info.inUseBytes
            process.mallocFree = info.fordblks
            state.mallocInUseBytes = info.inUseBytes
            state.mallocFreeBytes = info.fordblks
        }

        // 3. The soft limit.
        if let limitBytes = state.limitBytes, let target = state.targetBytes, var watched = measure(stats) {
            state.watchedBytes = watched
            if watched <= target {
                backOff = 0
                state.backingOff = false
            } else if now >= backOffUntil {
                var need = watched - target
                let byReleasable = arenas.sorted { $0.arena.releasableBytes > $1.arena.releasableBytes }
                for a in byReleasable where need > 0 && cpuTokens > 0 && byteTokens >= Double(VirtualMemory.pageSize) {
                    guard a.arena.releasableBytes > 0 else { continue }
                    do {
                        let r = try a.arena.releaseIdle(maxBytes: min(need, Int(byteTokens)))
                        need -= r.releasedBytes
                        byteTokens -= Double(r.releasedBytes)
                        state.releasedBytes += r.releasedBytes
                        state.limitReleasedBytes += r.releasedBytes
                        state.releaseCalls += r.madviseCalls
                    } catch {
                        governor.logger.debug("memprobe: release for the limit failed", metadata: ["arena": "\(a.label)", "error": "\(error)"])
                    }
                }
                if need > 0, cpuTokens > 0, now - lastTrim >= config.trimMinimumInterval.nanosecondsClamped {
                    lastTrim = now
                    let info = MallocHeap.info()
                    process.mallocInUse = info.inUseBytes
                    process.mallocFree = info.fordblks
                    if info.fordblks >= config.trimMinimumFreeBytes, let r = try? MallocHeap.trim() {
                        state.trimCalls += 1
                        state.trimReleasedBytes += r.releasedBytes
                        state.releasedBytes += max(r.releasedBytes, 0)
                        governor.logger.debug("memprobe: malloc_trim", metadata: ["released": "\(r.releasedBytes)", "ns": "\(r.nanoseconds)"])
                    }
                }
                stats = arenas.map { ($0, $0.arena.stats) }
                process.rss = try? statm?.residentBytes()
                watched = measure(stats) ?? watched
                state.watchedBytes = watched
                let dirtyLeft = stats.reduce(0) { $0 + $1.1.heapIdle - $1.1.heapReleased }
                if watched > limitBytes && dirtyLeft < (1 << 20) {
                    overrun(now: now, watched: watched, limit: limitBytes)
                } else if watched <= target {
                    backOff = 0
                    state.backingOff = false
                }
            }
        }

        // 4. Metrics, publishing, requests.
        if let metrics = governor.metrics, now - lastMetrics >= config.metricsInterval.nanosecondsClamped {
            lastMetrics = now
            readCgroupFigures()
            if let status = try? ProcStatus.read(pid: nil), let anon = status.rssAnon { process.anonymous = anon }
            metrics.update(arenas: stats, process: process, governor: state)
        }
        let used = threadCPUNanoseconds() - cpu0
        cpuTokens -= Double(used)
        state.ticks += 1
        state.cpuNanoseconds = threadCPUNanoseconds() - startCPU
        state.runNanoseconds = monotonicNanoseconds() - startWall
        publisher?.publish(arenas: arenas, governor: state)
        if let publisher, let request = publisher.pendingRequest() {
            let status = config.requestHandler?(request) ?? HeapProfileRequestHandler.handle(request)
            publisher.reply(to: request, status: status)
        }
        let snapshot = state
        governor.shared.withLock { $0.state = snapshot }
        // Out of CPU budget: sleep until enough has refilled for a tick's worth of release work.
        if cpuTokens <= 0 {
            let rate = max(config.cpuBudget, 1e-6)
            wake = max(wake, now + Int(min(-cpuTokens / rate, 1e10)))
        }
        return wake
    }

    func refill(_ now: Int) {
        let dt = Double(max(now - lastRefill, 0))
        lastRefill = now
        cpuTokens = min(Self.cpuCapacity(config), cpuTokens + dt * max(config.cpuBudget, 0))
        let rate = Double(max(config.maxReleaseBytesPerSecond, VirtualMemory.pageSize))
        byteTokens = min(rate, byteTokens + dt * rate / 1e9)
    }

    /// The figure kept under the limit: the cgroup's working set inside a limited cgroup, else RSS − LazyFree
    /// (statm RSS minus the arenas' lazily freed bytes: memprobe's arenas are the process's MADV_FREE users,
    /// glibc's trim uses MADV_DONTNEED; smaps_rollup would cost O(resident pages) per tick).
    func measure(_ stats: [(RegisteredArena, ArenaStats)]) -> Int? {
        if let cgroup = governor.limit.cgroup {
            guard let usage = try? cgroup.usage() else { return nil }
            let inactive = (try? cgroup.stat())?.inactiveFile ?? 0
            process.cgroupUsage = usage
            process.cgroupWorkingSet = max(usage - inactive, 0)
            return process.cgroupWorkingSet
        }
        guard let rss = process.rss else { return nil }
        let lazy = stats.reduce(0) { $0 + $1.1.heapReleasedLazy }
        return max(rss - lazy, 0)
    }

    func readCgroupFigures() {
        guard let cgroup = governor.processCgroup else { return }
        if let usage = try? cgroup.usage() {
            process.cgroupUsage = usage
            let inactive = (try? cgroup.stat())?.inactiveFile ?? 0
            process.cgroupWorkingSet = max(usage - inactive, 0)
        }
        process.cgroupLimit = governor.limit.cgroupLimit ?? (try? cgroup.effectiveLimit()) ?? nil
    }

    /// Live data above the limit: nothing idle is left to release. Back off (1 s, doubling up to the maximum) so
    /// the governor never spins on a limit it cannot meet, report it, and warn at most once per interval.
    func overrun(now: Int, watched: Int, limit: Int) {
        state.overrunCount += 1
        state.lastOverrun = .init(unixSeconds: Int(time(nil)), watchedBytes: watched, limitBytes: limit)
        backOff = min(max(backOff * 2, 1_000_000_000), config.maximumBackOff.nanosecondsClamped)
        backOffUntil = now + backOff
        state.backingOff = true
        if now - lastWarning >= config.warningInterval.nanosecondsClamped {
            lastWarning = now
            governor.logger.warning("memprobe: soft memory limit cannot be met: live data exceeds it", metadata: [
                "watched": "\(ByteFormat.human(watched))", "limit": "\(ByteFormat.human(limit))",
                "figure": "\(state.watched.rawValue)", "backoff_s": "\(backOff / 1_000_000_000)",
            ])
        }
    }
}

extension Duration {
    /// Nanoseconds, clamped to Int.
    var nanosecondsClamped: Int {
        let (s, atto) = components
        if s >= Int64(Int.max / 1_000_000_000) { return Int.max }
        if s < 0 { return 0 }
        return Int(s) * 1_000_000_000 + Int(atto / 1_000_000_000)
    }
}
