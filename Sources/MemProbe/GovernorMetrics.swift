import CoreMetrics
import MemProbeArena

/// The process, cgroup and glibc figures one governor tick read (nil: not read this time).
package struct ProcessFigures: Sendable, Hashable {
    package var rss: Int?
    package var lazyFree: Int?
    package var anonymous: Int?
    package var cgroupUsage: Int?
    package var cgroupLimit: Int?
    package var cgroupWorkingSet: Int?
    package var mallocInUse: Int?
    package var mallocFree: Int?
    package init() {}
    /// RSS − LazyFree.
    package var effectiveRss: Int? { rss.map { $0 - (lazyFree ?? 0) } }
}

/// Every figure a dashboard needs, as swift-metrics gauges and counters made by an injected factory (the library
/// never bootstraps `MetricsSystem`). Names follow Prometheus conventions under the `memprobe_` prefix (no clash
/// with the `process_*` names of other libraries); the only labels are `arena` (the arena's ``PageArena/label``)
/// and `kind` (`lazy`/`discarded`).
///
/// Updated from the governor's thread only.
package final class GovernorMetrics: @unchecked Sendable {
    package enum Name {
        package static let arenaAlloc = "memprobe_arena_alloc_bytes"
        package static let arenaHeapInuse = "memprobe_arena_heap_inuse_bytes"
        package static let arenaHeapIdle = "memprobe_arena_heap_idle_bytes"
        package static let arenaHeapReleased = "memprobe_arena_heap_released_bytes"
        package static let arenaSys = "memprobe_arena_sys_bytes"
        package static let arenaMadviseCalls = "memprobe_arena_madvise_calls_total"
        package static let arenaMunmapCalls = "memprobe_arena_munmap_calls_total"
        package static let rss = "memprobe_rss_bytes"
        package static let lazyFree = "memprobe_lazy_free_bytes"
        package static let effectiveRss = "memprobe_effective_rss_bytes"
        package static let anonymous = "memprobe_anonymous_bytes"
        package static let cgroupUsage = "memprobe_cgroup_usage_bytes"
        package static let cgroupLimit = "memprobe_cgroup_limit_bytes"
        package static let cgroupWorkingSet = "memprobe_cgroup_working_set_bytes"
        package static let mallocInUse = "memprobe_malloc_in_use_bytes"
        package static let mallocFree = "memprobe_malloc_free_bytes"
        package static let limit = "memprobe_governor_limit_bytes"
        package static let target = "memprobe_governor_target_bytes"
        package static let watched = "memprobe_governor_watched_bytes"
        package static let backingOff = "memprobe_governor_backing_off"
        package static let released = "memprobe_governor_released_bytes_total"
        package static let trimCalls = "memprobe_governor_malloc_trim_calls_total"
        package static let overruns = "memprobe_governor_overruns_total"
        package static let cpuSeconds = "memprobe_governor_cpu_seconds_total"
    }

    private struct ArenaGauges {
        var alloc, heapInuse, heapIdle, releasedLazy, releasedDiscarded, sys: Gauge
        var madviseCalls, munmapCalls: Counter
    }

    private let factory: any MetricsFactory
    private var arenaGauges: [String: ArenaGauges] = [:]
    /// Last madvise/munmap call counts seen per arena id (counters advance by the difference).
    private var lastCalls: [Int: (madvise: Int, munmap: Int)] = [:]
    private var gauges: [String: Gauge] = [:]
    private let released, trimCalls, overruns: Counter
    private let cpuSeconds: FloatingPointCounter
    private var last = GovernorState()

    package init(factory: any MetricsFactory) {
        self.factory = factory
        released = Counter(label: Name.released, factory: factory)
        trimCalls = Counter(label: Name.trimCalls, factory: factory)
        overruns = Counter(label: Name.overruns, factory: factory)
        cpuSeconds = FloatingPointCounter(
            label: Name.cpuSeconds, dimensions: [],
            handler: factory.makeFloatingPointCounter(label: Name.cpuSeconds, dimensions: []), factory: factory)
    }

    private func gauge(_ name: String) -> Gauge {
        if let g = gauges[name] { return g }
        let g = Gauge(label: name, factory: factory)
        gauges[name] = g
        return g
    }

    private func gauges(forArena label: String) -> ArenaGauges {
        if let g = arenaGauges[label] { return g }
        let d = [("arena", label)]
        let g = ArenaGauges(
            alloc: Gauge(label: Name.arenaAlloc, dimensions: d, factory: factory),
            heapInuse: Gauge(label: Name.arenaHeapInuse, dimensions: d, factory: factory),
            heapIdle: Gauge(label: Name.arenaHeapIdle, dimensions: d, factory: factory),
            releasedLazy: Gauge(label: Name.arenaHeapReleased, dimensions: d + [("kind", "lazy")], factory: factory),
            releasedDiscarded: Gauge(label: Name.arenaHeapReleased, dimensions: d + [("kind", "discarded")], factory: factory),
            sys: Gauge(label: Name.arenaSys, dimensions: d, factory: factory),
            madviseCalls: Counter(label: Name.arenaMadviseCalls, dimensions: d, factory: factory),
            munmapCalls: Counter(label: Name.arenaMunmapCalls, dimensions: d, factory: factory))
        arenaGauges[label] = g
        return g
    }

    /// Records one tick's figures. Arenas sharing a label are summed.
    package func update(arenas: [(RegisteredArena, ArenaStats)], process: ProcessFigures, governor g: GovernorState) {
        var byLabel: [String: ArenaStats] = [:]
        var seen = Set<Int>()
        for (a, s) in arenas {
            var sum = byLabel[a.label] ?? ArenaStats()
            sum.alloc += s.alloc
            sum.heapInuse += s.heapInuse
            sum.heapIdle += s.heapIdle
            sum.heapReleasedLazy += s.heapReleasedLazy
            sum.heapReleasedDiscarded += s.heapReleasedDiscarded
            sum.sys += s.sys
            byLabel[a.label] = sum
            let before = lastCalls[a.id] ?? (0, 0)
            let gs = gauges(forArena: a.label)
            if s.madviseCalls > before.madvise { gs.madviseCalls.increment(by: s.madviseCalls - before.madvise) }
            if s.munmapCalls > before.munmap { gs.munmapCalls.increment(by: s.munmapCalls - before.munmap) }
            lastCalls[a.id] = (s.madviseCalls, s.munmapCalls)
            seen.insert(a.id)
        }
        for id in lastCalls.keys where !seen.contains(id) { lastCalls[id] = nil }
        for (label, s) in byLabel {
            let gs = gauges(forArena: label)
            gs.alloc.record(s.alloc)
            gs.heapInuse.record(s.heapInuse)
            gs.heapIdle.record(s.heapIdle)
            gs.releasedLazy.record(s.heapReleasedLazy)
            gs.releasedDiscarded.record(s.heapReleasedDiscarded)
            gs.sys.record(s.sys)
        }
        // Arenas gone since the last tick: their gauges fall to 0 rather than keeping stale figures.
        for (label, gs) in arenaGauges where byLabel[label] == nil {
            for gauge in [gs.alloc, gs.heapInuse, gs.heapIdle, gs.releasedLazy, gs.releasedDiscarded, gs.sys] { gauge.record(0) }
        }
        func put(_ name: String, _ v: Int?) { if let v { gauge(name).record(v) } }
        put(Name.rss, process.rss)
        put(Name.lazyFree, process.lazyFree)
        put(Name.effectiveRss, process.effectiveRss)
        put(Name.anonymous, process.anonymous)
        put(Name.cgroupUsage, process.cgroupUsage)
        put(Name.cgroupLimit, process.cgroupLimit)
        put(Name.cgroupWorkingSet, process.cgroupWorkingSet)
        put(Name.mallocInUse, process.mallocInUse)
        put(Name.mallocFree, process.mallocFree)
        put(Name.limit, g.limitBytes)
        put(Name.target, g.targetBytes)
        put(Name.watched, g.watchedBytes)
        gauge(Name.backingOff).record(g.backingOff ? 1 : 0)
        if g.releasedBytes > last.releasedBytes { released.increment(by: g.releasedBytes - last.releasedBytes) }
        if g.trimCalls > last.trimCalls { trimCalls.increment(by: g.trimCalls - last.trimCalls) }
        if g.overrunCount > last.overrunCount { overruns.increment(by: g.overrunCount - last.overrunCount) }
        if g.cpuNanoseconds > last.cpuNanoseconds { cpuSeconds.increment(by: Double(g.cpuNanoseconds - last.cpuNanoseconds) / 1e9) }
        last = g
    }
}
