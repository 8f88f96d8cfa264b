import MemProbe

/// Rendering of the figures another process publishes (its arenas are in ``MemStatsReport/table(_:)`` already):
/// the governor's state as a table section, and arenas + governor in Prometheus text.
extension MemStatsReport {
    /// The governor section of the table, or nil when the snapshot holds no governor state.
    package static func governorTable(_ s: MemStats) -> String? {
        guard let g = s.governor else { return nil }
        var t = TextTable(headers: ["figure", "value", "meaning"], alignments: [.left, .right, .left])
        t.appendSection("memprobe governor of process \(s.pid) (\(g.running ? "running" : "stopped"))")
        t.append(["limit", g.limitBytes.map { ByteFormat.human($0) } ?? "none", "soft memory limit (source: \(g.limitSource.rawValue))"])
        t.append(["target", ByteFormat.human(g.targetBytes), "released down to this once passed"])
        t.append(["watched", ByteFormat.human(g.watchedBytes), g.watched == .cgroupWorkingSet ? "cgroup working set" : "RSS − LazyFree"])
        t.append(["released", ByteFormat.human(g.releasedBytes), "by the governor (\(g.releaseCalls) madvise/munmap calls)"])
        t.append(["for the limit", ByteFormat.human(g.limitReleasedBytes), "part of it released because of the soft limit"])
        t.append(["malloc_trim", "\(g.trimCalls)", "calls (gave back \(ByteFormat.human(g.trimReleasedBytes)))"])
        let share = g.runNanoseconds > 0 ? Double(g.cpuNanoseconds) / Double(g.runNanoseconds) * 100 : 0
        t.append(["CPU", "\(formatMilliseconds(g.cpuNanoseconds)) ms", "\(formatPercent(share)) % of one core over \(g.runNanoseconds / 1_000_000_000) s, \(g.ticks) ticks"])
        t.append(["overruns", "\(g.overrunCount)", g.backingOff ? "live data above the limit: backing off" : "times live data exceeded the limit"])
        if let o = g.lastOverrun {
            t.append(["last overrun", ByteFormat.human(o.watchedBytes), "watched figure then, limit \(ByteFormat.human(o.limitBytes)) (unix time \(o.unixSeconds))"])
        }
        t.append(["malloc in use", ByteFormat.human(g.mallocInUseBytes), "glibc heap (mallinfo2, rate-limited)"])
        t.append(["malloc free", ByteFormat.human(g.mallocFreeBytes), "free bytes glibc keeps"])
        return t.render()
    }

    static func formatMilliseconds(_ ns: Int) -> String { ByteFormat.oneDecimal(Double(ns) / 1e6) }
    static func formatPercent(_ p: Double) -> String {
        let hundredths = Int((p * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }

    /// Per-arena and governor gauges of snapshots that carry published figures (empty when none does).
    package static func prometheusPublished(_ snapshots: [MemStats]) -> String {
        typealias ArenaMetric = (name: String, help: String, value: (MemStats.Arena) -> Int)
        let arenaMetrics: [ArenaMetric] = [
            ("memprobe_arena_alloc_bytes", "Bytes of live allocations in the arena.", { $0.stats.alloc }),
            ("memprobe_arena_heap_inuse_bytes", "Bytes of arena pages holding live allocations.", { $0.stats.heapInuse }),
            ("memprobe_arena_heap_idle_bytes", "Bytes of free arena pages still mapped.", { $0.stats.heapIdle }),
            ("memprobe_arena_heap_released_bytes", "Idle arena bytes given back (lazy + discarded).", { $0.stats.heapReleased }),
            ("memprobe_arena_sys_bytes", "Address space the arena mapped.", { $0.stats.sys }),
        ]
        var lines: [String] = []
        for m in arenaMetrics {
            let samples = snapshots.flatMap { s in s.arenas.map { (s.pid, $0.name, m.value($0)) } }
            if samples.isEmpty { continue }
            lines.append("# HELP \(m.name) \(m.help)")
            lines.append("# TYPE \(m.name) gauge")
            for (pid, arena, v) in samples { lines.append("\(m.name){pid=\"\(pid)\",arena=\"\(escape(arena))\"} \(v)") }
        }
        typealias GovernorMetric = (name: String, help: String, type: String, value: (GovernorState) -> Int?)
        let governorMetrics: [GovernorMetric] = [
            ("memprobe_governor_limit_bytes", "Soft memory limit of the memprobe governor.", "gauge", { $0.limitBytes }),
            ("memprobe_governor_target_bytes", "Level the governor releases down to.", "gauge", { $0.targetBytes }),
            ("memprobe_governor_watched_bytes", "Figure the governor keeps under the limit.", "gauge", { $0.watchedBytes }),
            ("memprobe_governor_released_bytes_total", "Bytes released by the governor.", "counter", { $0.releasedBytes }),
            ("memprobe_governor_malloc_trim_calls_total", "malloc_trim calls by the governor.", "counter", { $0.trimCalls }),
            ("memprobe_governor_overruns_total", "Times live data exceeded the soft limit.", "counter", { $0.overrunCount }),
            ("memprobe_governor_backing_off", "1 while the governor backs off after an overrun.", "gauge", { $0.backingOff ? 1 : 0 }),
        ]
        for m in governorMetrics {
            let samples = snapshots.compactMap { s in s.governor.flatMap { m.value($0) }.map { (s.pid, $0) } }
            if samples.isEmpty { continue }
            lines.append("# HELP \(m.name) \(m.help)")
            lines.append("# TYPE \(m.name) \(m.type)")
            for (pid, v) in samples { lines.append("\(m.name){pid=\"\(pid)\"} \(v)") }
        }
        let cpu = snapshots.compactMap { s in s.governor.map { (s.pid, Double($0.cpuNanoseconds) / 1e9) } }
        if !cpu.isEmpty {
            lines.append("# HELP memprobe_governor_cpu_seconds_total CPU time used by the governor's thread.")
            lines.append("# TYPE memprobe_governor_cpu_seconds_total counter")
            for (pid, v) in cpu { lines.append("memprobe_governor_cpu_seconds_total{pid=\"\(pid)\"} \(v)") }
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ label: String) -> String {
        var out = ""
        for c in label {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
