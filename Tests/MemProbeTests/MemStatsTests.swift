#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import FoundationEssentials
import MemProbe
import MemProbeCompare
import MemProbeArena
import MemProbeSystem
import MemProbeTestSupport
import Testing

/// `MemStats` and its renderings in process (so they run under ASan and TSan, not only through the CLI binary),
/// checked against the kernel's own files.
@Suite("MemStats in process")
struct MemStatsTests {
    @Test("a full capture of this process agrees with smaps_rollup read just after")
    func fullCaptureMatchesSmapsRollup() throws {
        let s = try MemStats.capture(mode: .full)
        let kernel = try SmapsRollup.read(pid: nil)
        let rss = try #require(s.rss), kernelRss = try #require(kernel.rss)
        // Other tests allocate in parallel: the two reads agree within 64 MiB, and the rollup figures copied.
        #expect(abs(rss - kernelRss) <= 64 * MiB, "MemStats \(rss) vs smaps_rollup \(kernelRss)")
        #expect(s.smapsRollup?["Rss"] == s.rss)
        #expect(s.pid == getpid())
        #expect(s.missing.allSatisfy { $0.figure != "smapsRollup" })
        if let e = s.effectiveRss, let l = s.lazyFree { #expect(e == rss - l) }
    }

    @Test("fast mode names what it did not read; its figures come from status")
    func fastCapture() throws {
        let s = try MemStats.capture(mode: .fast)
        #expect(Set(s.missing.map(\.figure)).isSuperset(of: ["smapsRollup", "cgroup", "pressure"]))
        #expect(s.lazyFree == nil && s.rss != nil)
        let status = try ProcStatus.read(pid: nil)
        #expect(abs((s.rss ?? 0) - (status.vmRSS ?? 0)) <= 64 * MiB)
    }

    @Test("JSON carries every key, null for what was not read")
    func json() throws {
        let s = try MemStats.capture(mode: .fast)
        let text = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        for key in ["\"schemaVersion\"", "\"pid\"", "\"rss\"", "\"lazyFree\":null", "\"missing\""] {
            #expect(text.contains(key), "JSON lacks \(key)")
        }
        #expect(try JSONDecoder().decode(MemStats.self, from: Data(text.utf8)) == s)
    }

    @Test("Prometheus: HELP and TYPE once per metric, one series per pid, integer values")
    func prometheus() throws {
        let a = try MemStats.capture(mode: .fast)
        let text = MemStatsReport.prometheus([a])
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") { #expect(names.insert(String(line.split(separator: " ")[2])).inserted) }
            else if !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 2 && Int(parts[1]) != nil, "bad sample \(line)")
                #expect(parts[0].hasSuffix("{pid=\"\(getpid())\"}") && parts[0].hasPrefix("memprobe_"))
            }
        }
        #expect(names.contains("memprobe_rss_bytes"))
    }

    @Test("the table names only the files it read and lists what it did not")
    func table() throws {
        let full = MemStatsReport.table(try MemStats.capture(mode: .full))
        #expect(full.contains("smaps_rollup, status, statm"))
        var denied = try MemStats.capture(mode: .full)
        denied.missing.append(try JSONDecoder().decode(
            MemStats.Missing.self, from: Data(#"{"figure":"smapsRollup","reason":"not permitted"}"#.utf8)))
        let text = MemStatsReport.table(denied)
        #expect(!text.contains("smaps_rollup, status, statm") && text.contains("status, statm"))
        #expect(text.contains("smapsRollup: not permitted"))
    }

    @Test("captures from many threads at once while an arena changes (TSan: no race)")
    func concurrentCaptures() async throws {
        let arena = PageArena(strategy: .dontNeed)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<4 {
                group.addTask {
                    for _ in 0..<10 {
                        let s = try MemStats.capture(mode: .fast, arenas: [("test", arena)])
                        #expect(s.arenas.count == 1)
                        expectInvariants(s.arenas[0].stats)
                        if i == 0 {
                            let p = try arena.allocate(byteCount: MiB)
                            arena.deallocate(p, byteCount: MiB)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
