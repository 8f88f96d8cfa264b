#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import MemProbe
import MemProbeCompare
import Testing
import MemProbeTestSupport

/// `memprobe snapshot` end to end: the real binary against real processes, figures checked against /proc.
@Suite struct SnapshotCLITests {
    @Test func selfJSONHasTheDocumentedFields() throws {
        let r = try CLIProcess.run(["snapshot", "--self", "--format", "json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let object = try r.jsonObject()
        for key in ["schemaVersion", "pid", "rss", "lazyFree", "anonymous", "effectiveRss", "cgroup", "mallocHeap", "smapsRollup", "missing"] {
            #expect(object.keys.contains(key), "missing key \(key)")
        }
        let rss = try #require(object["rss"] as? Int)
        let smaps = try #require(object["smapsRollup"] as? [String: Int])
        #expect(smaps["Rss"] == rss)
        #expect(rss > 1 << 20 && rss < 1 << 30)
        #expect(object["cgroup"] is [String: Any], "this machine has a memory cgroup")
    }

    @Test func anotherProcessMatchesItsSmapsRollup() throws {
        let pid = try spawnProcess("/bin/sleep", ["30"])
        defer { kill(pid, SIGKILL); reap(pid) }
        let r = try CLIProcess.run(["snapshot", "\(pid)", "--format", "json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let object = try r.jsonObject()
        #expect(object["pid"] as? Int == Int(pid))
        let rss = try #require(object["rss"] as? Int)
        let kernel = try #require(procFileKiB("/proc/\(pid)/smaps_rollup", "Rss")) * 1024
        // sleep does not allocate while it sleeps: the two reads agree to within a few pages.
        #expect(abs(rss - kernel) <= 64 * 1024, "memprobe \(rss) vs kernel \(kernel)")
        #expect(object["mallocHeap"] is NSNull || object["mallocHeap"] == nil, "malloc heap is only for --self")
    }

    @Test func tableExplainsFiguresAndDerivedOnes() throws {
        let r = try CLIProcess.run(["snapshot", "--self"])
        #expect(r.status == 0)
        for needle in ["Rss", "LazyFree", "effective RSS", "Rss − LazyFree", "working set", "headroom", "Anonymous", "File"] {
            #expect(r.stdout.contains(needle), "table lacks \(needle)")
        }
    }

    @Test func prometheusFollowsNamingConventions() throws {
        let r = try CLIProcess.run(["snapshot", "--self", "--format", "prometheus"])
        #expect(r.status == 0)
        let samples = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(!samples.isEmpty)
        for line in samples {
            #expect(line.hasPrefix("memprobe_") && line.contains("_bytes{pid=\""), "bad sample \(line)")
            #expect(Int(line.split(separator: " ").last ?? "") != nil)
        }
        #expect(r.stdout.contains("# TYPE memprobe_rss_bytes gauge"))
    }

    @Test func fastModeNamesWhatItDidNotRead() throws {
        let r = try CLIProcess.run(["snapshot", "--self", "--fast", "--format", "json"])
        #expect(r.status == 0)
        let object = try r.jsonObject()
        #expect(object["lazyFree"] == nil || object["lazyFree"] is NSNull)
        #expect(object["rss"] is Int)
        // What --fast leaves out is listed in its output, not repeated on stderr for every scrape (issue 12).
        let missing = try #require(object["missing"] as? [[String: Any]])
        #expect(missing.contains { $0["figure"] as? String == "smapsRollup" })
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }

    @Test func noSuchProcessExits2WithOneLine() throws {
        let r = try CLIProcess.run(["snapshot", "999999"])
        #expect(r.status == 2)
        #expect(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
        #expect(r.stderr.contains("no such process"))
        #expect(r.stdout.isEmpty)
    }

    @Test func kernelThreadHasNoAddressSpace() throws {
        let r = try CLIProcess.run(["snapshot", "2"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no address space"))
    }

    @Test func zombieHasNoAddressSpace() throws {
        let pid = try spawnProcess("/bin/true")
        defer { reap(pid) }
        // Wait (without reaping) until the child is a zombie.
        _ = eventually(within: .seconds(2)) { isZombie(pid) }
        let r = try CLIProcess.run(["snapshot", "\(pid)"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no address space"))
    }

    @Test(arguments: [["snapshot"], ["snapshot", "abc"], ["snapshot", "--self", "--format", "xml"], ["snapshot", "0"], ["snapshot", "--bogus"]])
    func malformedArgumentsExit64WithUsage(_ args: [String]) throws {
        let r = try CLIProcess.run(args)
        #expect(r.status == 64)
        #expect(r.stderr.contains("Usage:"))
    }

    @Test(.enabled(if: HardeningCLITests.canRunAsNobody, "needs root, setpriv and a build folder uid 65534 may execute"))
    func notPermittedFallsBackToStatusAndNamesMissingFigures() throws {
        // An unprivileged reader may open status/statm of a root process but not its smaps_rollup (EACCES).
        let r = try CLIProcess.run(["snapshot", "\(getpid())", "--format", "json"], wrapper: HardeningCLITests.nobody)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let object = try r.jsonObject()
        #expect(object["rss"] is Int)
        #expect(object["lazyFree"] == nil || object["lazyFree"] is NSNull)
        let missing = try #require(object["missing"] as? [[String: Any]])
        #expect(missing.contains { ($0["figure"] as? String) == "smapsRollup" && (($0["reason"] as? String)?.contains("not permitted") ?? false) })
    }
}
