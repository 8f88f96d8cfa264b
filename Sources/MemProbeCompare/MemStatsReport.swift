import MemProbe
import MemProbeSystem

/// Renders ``MemStats`` for people (a table that explains each figure) and for Prometheus (text exposition format).
package enum MemStatsReport {
    /// A table of every figure with a few words on what it means, plus the derived figures
    /// (effective RSS, cgroup headroom, anonymous vs file) and the figures that could not be read.
    package static func table(_ s: MemStats) -> String {
        var t = TextTable(headers: ["figure", "value", "meaning"], alignments: [.left, .right, .left])
        func row(_ name: String, _ v: Int?, _ meaning: String) { t.append([name, ByteFormat.human(v), meaning]) }
        // Name only the files that were really read: a denied smaps_rollup must not appear as a source.
        let readSmaps = s.mode == "full" && !s.missing.contains { $0.figure == "smapsRollup" }
        t.appendSection("process \(s.pid)\(s.name.map { " (\($0))" } ?? "") — kernel view (\(readSmaps ? "smaps_rollup, status, statm" : "status, statm"))")
        row("Rss", s.rss, "pages resident in RAM (includes LazyFree)")
        row("LazyFree", s.lazyFree, "freed with MADV_FREE, still resident until the kernel needs them")
        row("effective RSS", s.effectiveRss, "Rss − LazyFree: what stays if the kernel reclaims lazy pages")
        row("Pss", s.pss, "Rss with shared pages split among sharers")
        row("Anonymous", s.anonymous, "heap, stacks, anonymous mmap")
        row("File", s.file, "file-backed pages (binaries, libraries, mapped files)")
        row("Shmem", s.shmem, "shared memory")
        row("AnonHugePages", s.anonHugePages, "anonymous memory in transparent huge pages")
        row("Swap", s.swap, "swapped out")
        row("VmSize", s.vmSize, "mapped address space (not memory)")
        row("VmHWM", s.vmHWM, "peak Rss")
        if let c = s.cgroup {
            t.appendSection("memory cgroup \(c.directory) (\(c.version.rawValue))")
            row("usage", c.usage, "charged to the cgroup (includes page cache and LazyFree)")
            t.append(["limit", c.limit.map { ByteFormat.human($0) } ?? "unlimited", "hard limit (OOM kill above it)"])
            row("working set", c.workingSet, "usage − inactive_file: what the kubelet evicts on")
            t.append(["headroom", c.headroom.map { ByteFormat.human($0) } ?? "unlimited", "limit − working set"])
            row("anon", c.anon, "anonymous memory of the cgroup")
            row("file", c.file, "page cache of the cgroup")
            row("inactive_file", c.inactiveFile, "reclaimable cache (and lazily freed pages)")
            if let k = c.oomKills { t.append(["oom kills", "\(k)", "processes killed at the limit"]) }
        }
        if let m = s.mallocHeap {
            t.appendSection("glibc malloc heap (mallinfo2)")
            row("in use", m.inUseBytes, "bytes in live malloc blocks (uordblks + hblkhd)")
            row("free in heap", m.fordblks, "freed, kept by malloc (interior pages stay resident until malloc_trim)")
            row("heap arena", m.arena, "sbrk/arena space malloc holds")
            row("mmapped", m.hblkhd, "large blocks served by mmap")
        }
        for a in s.arenas {
            t.appendSection("PageArena \(a.name) (strategy \(a.strategy))")
            row("Alloc", a.stats.alloc, "bytes of live allocations")
            row("HeapInuse", a.stats.heapInuse, "bytes of pages holding live allocations")
            row("HeapIdle", a.stats.heapIdle, "free pages still mapped")
            row("HeapReleased", a.stats.heapReleased, "idle pages given back (lazy + discarded)")
            row("Sys", a.stats.sys, "address space mapped from the OS")
            row("resident", a.resident, "measured with mincore (lazy pages count)")
        }
        if let nodes = s.numaNodes, !nodes.isEmpty {
            t.appendSection("NUMA nodes (numa_maps)")
            for n in nodes {
                t.append(["node \(n.node)", ByteFormat.human(n.bytes), "resident on this node (anonymous \(ByteFormat.human(n.anonymousBytes)))"])
            }
        }
        if let p = s.pressure {
            t.appendSection("memory pressure (PSI, system-wide)")
            t.append(["some avg10", "\(p.some.avg10) %", "share of time some task stalled on memory"])
            if let f = p.full { t.append(["full avg10", "\(f.avg10) %", "share of time all tasks stalled on memory"]) }
        }
        var out = t.render()
        if !s.missing.isEmpty {
            out += "\n\nnot read:\n" + s.missing.map { "  \($0.figure): \($0.reason)" }.joined(separator: "\n")
        }
        return out
    }

    /// Prometheus text exposition of one or more snapshots: `memprobe_<figure>_bytes{pid="…"}` gauges.
    package static func prometheus(_ snapshots: [MemStats]) -> String {
        typealias Metric = (name: String, help: String, value: (MemStats) -> Int?)
        let metrics: [Metric] = [
            ("memprobe_rss_bytes", "Resident set size (smaps_rollup Rss or status VmRSS).", { $0.rss }),
            ("memprobe_effective_rss_bytes", "Rss minus LazyFree.", { $0.effectiveRss }),
            ("memprobe_pss_bytes", "Proportional set size.", { $0.pss }),
            ("memprobe_anonymous_bytes", "Anonymous resident memory.", { $0.anonymous }),
            ("memprobe_file_bytes", "File-backed resident memory.", { $0.file }),
            ("memprobe_shmem_bytes", "Shared-memory resident memory.", { $0.shmem }),
            ("memprobe_lazy_free_bytes", "Pages freed with MADV_FREE still counted in Rss.", { $0.lazyFree }),
            ("memprobe_anon_huge_pages_bytes", "Anonymous memory in transparent huge pages.", { $0.anonHugePages }),
            ("memprobe_swap_bytes", "Swapped-out memory.", { $0.swap }),
            ("memprobe_virtual_memory_bytes", "Mapped address space (VmSize).", { $0.vmSize }),
            ("memprobe_resident_peak_bytes", "Peak resident set size (VmHWM).", { $0.vmHWM }),
            ("memprobe_cgroup_usage_bytes", "Memory cgroup usage.", { $0.cgroup?.usage }),
            ("memprobe_cgroup_limit_bytes", "Memory cgroup limit (absent when unlimited).", { $0.cgroup?.limit }),
            ("memprobe_cgroup_working_set_bytes", "Memory cgroup usage minus inactive_file.", { $0.cgroup?.workingSet }),
            ("memprobe_malloc_in_use_bytes", "glibc bytes in live malloc blocks.", { $0.mallocHeap?.inUseBytes }),
            ("memprobe_malloc_free_bytes", "glibc free bytes kept in the heap.", { $0.mallocHeap?.fordblks }),
        ]
        var lines: [String] = []
        for m in metrics {
            let samples = snapshots.compactMap { s in m.value(s).map { (s.pid, $0) } }
            if samples.isEmpty { continue }
            lines.append("# HELP \(m.name) \(m.help)")
            lines.append("# TYPE \(m.name) gauge")
            for (pid, v) in samples { lines.append("\(m.name){pid=\"\(pid)\"} \(v)") }
        }
        lines += numaPrometheus(snapshots)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `memprobe_numa_node_resident_bytes{pid, node}` and its anonymous part, from numa_maps.
    static func numaPrometheus(_ snapshots: [MemStats]) -> [String] {
        var lines: [String] = []
        let series: [(String, String, (NUMAMaps.Node) -> Int)] = [
            ("memprobe_numa_node_resident_bytes", "Resident bytes on a NUMA node (numa_maps).", { $0.bytes }),
            ("memprobe_numa_node_anonymous_bytes", "Anonymous resident bytes on a NUMA node (numa_maps).", { $0.anonymousBytes }),
        ]
        for (name, help, value) in series {
            let samples = snapshots.flatMap { s in (s.numaNodes ?? []).map { (s.pid, $0.node, value($0)) } }
            if samples.isEmpty { continue }
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) gauge")
            for (pid, node, v) in samples { lines.append("\(name){pid=\"\(pid)\",node=\"\(node)\"} \(v)") }
        }
        return lines
    }
}
