#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import MemProbe
import Testing
import MemProbeTestSupport

/// `memprobe-demo` as a real child process: the governor's effect on its RSS (statm, read by this test while the
/// demo runs), `memprobe snapshot <pid>` of its published arenas, another user's view, and its soft limit inside a
/// memory cgroup.
@Suite(.serialized) struct ServiceDemoTests {
    static var demo: URL { CLIProcess.executable.deletingLastPathComponent().appendingPathComponent("memprobe-demo") }

    /// A running demo: its stdout goes to a file read line by line; statm is sampled until it exits.
    final class RunningDemo {
        let process = Process()
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-demo-\(UUID().uuidString)")
        var samples: [(ns: Int, rss: Int)] = []
        var pid: Int32 { process.processIdentifier }

        init(_ args: [String], environment: [String: String]? = nil, cgroupProcs: String? = nil) throws {
            FileManager.default.createFile(atPath: outURL.path, contents: nil)
            let out = try FileHandle(forWritingTo: outURL)
            if let cgroupProcs {
                // The shell joins the cgroup, then becomes the demo (same pid).
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", "echo $$ > \(cgroupProcs) && exec \"$0\" \"$@\"", ServiceDemoTests.demo.path] + args
            } else {
                process.executableURL = ServiceDemoTests.demo
                process.arguments = args
            }
            if let environment { process.environment = environment }
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            try out.close()
        }

        var lines: [[String: Any]] {
            let text = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        func phase(_ name: String) -> [String: Any]? { lines.first { $0["phase"] as? String == name } }

        /// Samples statm every 20 ms until `until` holds or the process exits (or `timeout`).
        func sample(timeout: Duration = .seconds(120), until: (RunningDemo) -> Bool = { _ in false }) {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline, !until(self) {
                if let s = try? Statm.read(pid: pid) { samples.append((monotonicNanoseconds(), s.resident)) }
                usleep(20_000)
            }
        }

        func finish() -> (status: Int32, reason: Process.TerminationReason) {
            process.waitUntilExit()
            return (process.terminationStatus, process.terminationReason)
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            try? FileManager.default.removeItem(at: outURL)
        }
    }

    static func int(_ o: [String: Any]?, _ key: String) -> Int? { o?[key] as? Int }

    /// decay(500ms) + governor: after the last removal, RSS is back to start + 2 MiB within 1.5 s with no call
    /// from the application; `snapshot <pid> --format json` shows the arena with the demo's own figures.
    @Test func governorReleasesDecayArenaAndSnapshotSeesIt() throws {
        let d = try RunningDemo(["--items", "262144", "--value-size", "1024", "--strategy", "decay:500ms", "--governor", "on", "--hold", "60"])
        d.sample { demo in
            guard let emptied = demo.phase("emptied"), let start = demo.phase("start"),
                  let t = Self.int(emptied, "monotonicNs"), let base = Self.int(start, "rss") else { return false }
            return demo.samples.contains { $0.ns > t && $0.rss <= base + 2 * MiB } && demo.samples.last!.ns > t + 500_000_000
        }
        let start = try #require(d.phase("start")), emptied = try #require(d.phase("emptied"))
        let base = try #require(Self.int(start, "rss")), t = try #require(Self.int(emptied, "monotonicNs"))
        let reached = try #require(d.samples.first { $0.ns > t && $0.rss <= base + 2 * MiB }, "RSS never came back to start + 2 MiB")
        #expect(reached.ns - t <= 1_500_000_000, "RSS back to start + 2 MiB after \((reached.ns - t) / 1_000_000) ms")
        // The published figures, read from outside, against what the demo prints itself (the arena is idle now).
        let r = try CLIProcess.run(["snapshot", "\(d.pid)", "--format", "json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let snap = try r.jsonObject()
        let arenas = try #require(snap["arenas"] as? [[String: Any]])
        let arena = try #require(arenas.first { $0["name"] as? String == "demo" }, "arenas: \(arenas)")
        let stats = try #require(arena["stats"] as? [String: Any])
        let governor = try #require(snap["governor"] as? [String: Any])
        #expect(governor["running"] as? Bool == true)
        kill(d.pid, SIGTERM)
        let end = d.finish()
        #expect(end.status == 0 && end.reason == .exit, "SIGTERM ends it gracefully")
        let stopped = try #require(d.lines.first { $0["phase"] as? String == "stopped" })
        #expect(Self.int(stats, "alloc") == Self.int(stopped, "alloc"))
        #expect(Self.int(stats, "heapReleased") == Self.int(stopped, "heapReleased"))
        #expect(Self.int(stats, "sys") == Self.int(stopped, "sys"))
        // The file is gone after the graceful exit.
        #expect(!FileManager.default.fileExists(atPath: PublishedStatsLocation.path(pid: d.pid, uid: geteuid())))
    }

    /// The same without the governor: RSS stays high — the governor did it.
    @Test func withoutGovernorRSSStaysHigh() throws {
        let d = try RunningDemo(["--items", "262144", "--value-size", "1024", "--strategy", "decay:500ms", "--governor", "off", "--hold", "2"])
        d.sample()
        let end = d.finish()
        #expect(end.status == 0)
        let start = try #require(d.phase("start")), held = try #require(d.phase("held"))
        let base = try #require(Self.int(start, "rss")), rss = try #require(Self.int(held, "rss"))
        #expect(rss >= base + 200 * MiB, "RSS \(rss) vs start \(base)")
        #expect((Self.int(held, "heapReleased") ?? 0) < 64 * MiB)
        #expect(held["governorReleased"] == nil)
    }

    /// Another user (uid 65534) reading a root demo: kernel figures plus one "not permitted" line for the published part.
    @Test(.enabled(if: HardeningCLITests.canRunAsNobody, "needs root, setpriv and a build folder uid 65534 may execute"))
    func anotherUserGetsNotPermitted() throws {
        let d = try RunningDemo(["--items", "1024", "--value-size", "64", "--strategy", "dontNeed", "--hold", "60"])
        defer { kill(d.pid, SIGTERM) }
        d.sample(timeout: .seconds(30)) { $0.phase("emptied") != nil && $0.samples.count > 5 }
        let path = PublishedStatsLocation.path(pid: d.pid, uid: 0)
        #expect(FileManager.default.fileExists(atPath: path))
        let nobody = HardeningCLITests.nobody
        let r = try CLIProcess.run(["snapshot", "\(d.pid)", "--format", "json"], wrapper: nobody)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let snap = try r.jsonObject()
        #expect(snap["rss"] is Int, "kernel figures still shown")
        #expect((snap["arenas"] as? [Any])?.isEmpty == true)
        let notPermitted = r.stderr.split(separator: "\n").filter { $0.contains("not permitted") && $0.contains(path) }
        #expect(notPermitted.count == 1, "stderr: \(r.stderr)")
        let table = try CLIProcess.run(["snapshot", "\(d.pid)"], wrapper: nobody)
        #expect(table.stdout.split(separator: "\n").filter { $0.contains("published: not permitted") }.count == 1)
        // The owner (root) sees the arena.
        let own = try CLIProcess.run(["snapshot", "\(d.pid)", "--format", "prometheus"])
        #expect(own.stdout.contains("memprobe_arena_alloc_bytes{pid=\"\(d.pid)\",arena=\"demo\"}"))
        #expect(own.stdout.contains("memprobe_governor_cpu_seconds_total{pid=\"\(d.pid)\"}"))
    }

    /// `MEMPROBE_PUBLISH=0`: the governor runs but publishes nothing; snapshot shows kernel figures only.
    @Test func publishingOptOut() throws {
        var env = ProcessInfo.processInfo.environment
        env["MEMPROBE_PUBLISH"] = "0"
        let d = try RunningDemo(["--items", "1024", "--value-size", "64", "--hold", "60"], environment: env)
        defer { kill(d.pid, SIGTERM) }
        d.sample(timeout: .seconds(30)) { $0.phase("emptied") != nil && $0.samples.count > 5 }
        #expect(!FileManager.default.fileExists(atPath: PublishedStatsLocation.path(pid: d.pid, uid: geteuid())))
        let r = try CLIProcess.run(["snapshot", "\(d.pid)", "--format", "json"])
        #expect(r.status == 0)
        let snap = try r.jsonObject()
        #expect((snap["arenas"] as? [Any])?.isEmpty == true)
        #expect(snap["governor"] is NSNull)
    }

    /// `memprobe profile <pid> -o FILE` asks the demo's governor for its heap profile through the published file's
    /// request words: the file it writes is a valid profile whose inuse_space estimate matches the arena's Alloc
    /// (what the demo printed itself) within the sampling error of ~100 samples; a relative -o path lands in the
    /// tool's working directory, not the service's.
    @Test func profileFromOutsideThroughThePublishedFile() throws {
        let d = try RunningDemo(["--items", "65536", "--value-size", "1024", "--keep", "49152", "--strategy", "dontNeed",
                                 "--governor", "on", "--hold", "60"])
        defer { kill(d.pid, SIGTERM); _ = d.finish() }
        d.sample(timeout: .seconds(60)) { $0.phase("emptied") != nil }
        let emptied = try #require(d.phase("emptied"))
        let alloc = try #require(Self.int(emptied, "alloc"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-profile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIProcess.run(["profile", "\(d.pid)", "-o", "heap.pb.gz", "--format", "json", "--timeout", "20"],
                                   currentDirectory: dir)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("heap.pb.gz").path))
        let report = try r.jsonObject()
        #expect(report["sampleType"] as? String == "inuse_space")
        let total = try #require(report["total"] as? Int)
        #expect(Double(total) >= 0.6 * Double(alloc) && Double(total) <= 1.4 * Double(alloc), "inuse_space \(total) vs Alloc \(alloc)")
        // The reading side's own checks still hold: a file that is not a profile is a data error.
        let bad = dir.appendingPathComponent("bad.pb.gz")
        try Data("not a profile".utf8).write(to: bad)
        #expect(try CLIProcess.run(["profile", bad.path]).status == 65)
    }

    /// A process that publishes nothing cannot be asked: exit 2 with one line.
    @Test func profileOfAProcessThatDoesNotPublishExits2() throws {
        var env = ProcessInfo.processInfo.environment
        env["MEMPROBE_PUBLISH"] = "0"
        let d = try RunningDemo(["--items", "1024", "--value-size", "64", "--hold", "60"], environment: env)
        defer { kill(d.pid, SIGTERM); _ = d.finish() }
        d.sample(timeout: .seconds(30)) { $0.phase("emptied") != nil }
        let r = try CLIProcess.run(["profile", "\(d.pid)", "-o", "/tmp/memprobe-never-\(d.pid).pb.gz", "--timeout", "2"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("publishes no memprobe figures"), "\(r.stderr)")
    }

    /// The demo links only MemProbe: no ArgumentParser, no Foundation, no compare code in its binary.
    @Test func demoBinaryHasNoCLIDependencies() throws {
        let bytes = try Data(contentsOf: Self.demo)
        for needle in ["ArgumentParser", "libFoundation", "FoundationEssentials", "MemProbeCompare", "CompareWorkload"] {
            #expect(bytes.range(of: Data(needle.utf8)) == nil, "\(needle) found in memprobe-demo")
        }
        #expect(bytes.range(of: Data("MemoryGovernor".utf8)) != nil)
    }

    @Test(arguments: [["--items", "x"], ["--governor", "maybe"], ["--strategy", "fast"], ["--memory-limit", "12XB"],
                      ["--keep", "5", "--items", "2"], ["--hold", "-1"], ["--bogus"], ["--value-size", "100000"]])
    func badArgumentsExit64(_ args: [String]) throws {
        let r = try runProcess(Self.demo.path, args)
        #expect(r.status == 64)
        #expect(r.stderr.hasPrefix("memprobe-demo: "))
    }

    @Test func invalidEnvironmentLimitIsAStartupError() throws {
        let r = try runProcess(Self.demo.path, ["--items", "10", "--hold", "0"], environment: ["MEMPROBE_MEMORY_LIMIT": "lots"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("MEMPROBE_MEMORY_LIMIT: invalid memory limit \"lots\""))
    }

    /// Under a 384 MiB memory cgroup, a `retain` demo holds 256 MiB of freed arena pages and then mallocs 256 MiB
    /// more: without the governor the kernel OOM-kills it; with it (limit 90 % of the cgroup's) the governor
    /// releases the idle pages as the working set passes the target, and the demo survives under its target.
    @Test(.enabled(if: TestEnvironment.canManageCgroups, "needs root and a memory cgroup it can create children in"))
    func softLimitInsideACgroupPreventsTheOOMKill() throws {
        let parent = try #require(TestEnvironment.cgroupSupport.parent)
        let limit = 384 * MiB
        let args = ["--items", "262144", "--value-size", "1024", "--strategy", "retain", "--then-allocate", "256MiB", "--hold", "1"]
        var outcomes: [Bool: (status: Int32, reason: Process.TerminationReason, last: [String: Any]?, kills: Int?)] = [:]
        for governor in [false, true] {
            let cg = try parent.createChild(named: "memprobe-svc-\(getpid())-\(governor)", limitBytes: limit)
            defer { try? cg.remove() }
            let killsBefore = try cg.oomKillCount()
            let d = try RunningDemo(args + ["--governor", governor ? "on" : "off"], cgroupProcs: cg.directory + "/cgroup.procs")
            d.sample()
            let end = d.finish()
            let kills = try cg.oomKillCount().map { $0 - (killsBefore ?? 0) }
            outcomes[governor] = (end.status, end.reason, d.lines.last, kills)
        }
        let without = try #require(outcomes[false]), with = try #require(outcomes[true])
        #expect(without.reason == .uncaughtSignal && without.status == SIGKILL, "without the governor the demo is OOM-killed")
        if let k = without.kills { #expect(k >= 1) }
        #expect(with.reason == .exit && with.status == 0, "with the governor it survives")
        if let k = with.kills { #expect(k == 0) }
        let last = try #require(with.last)
        #expect(last["phase"] as? String == "held")
        #expect(last["governorLimitSource"] as? String == "cgroup")
        let governorLimit = try #require(Self.int(last, "governorLimit"))
        #expect(governorLimit == Int(Double(limit) * MemoryLimitSetting.defaultCgroupFraction))
        let watched = try #require(Self.int(last, "governorWatched"))
        #expect(watched <= Int(Double(governorLimit) * 0.95) + 8 * MiB, "watched \(watched) vs target")
        #expect((Self.int(last, "governorReleased") ?? 0) >= 128 * MiB)
    }

    /// Live data (256 MiB kept) above a 128 MiB soft limit inside a 512 MiB cgroup: the demo survives, the governor
    /// reports the overrun, backs off, and stays within 1 % of a core.
    @Test(.enabled(if: TestEnvironment.canManageCgroups, "needs root and a memory cgroup it can create children in"))
    func liveDataAboveTheLimitBacksOff() throws {
        let parent = try #require(TestEnvironment.cgroupSupport.parent)
        let cg = try parent.createChild(named: "memprobe-svc-overrun-\(getpid())", limitBytes: 512 * MiB)
        defer { try? cg.remove() }
        var env = ProcessInfo.processInfo.environment
        env["MEMPROBE_MEMORY_LIMIT"] = "128MiB"
        let d = try RunningDemo(["--items", "262144", "--value-size", "1024", "--keep", "262144", "--strategy", "dontNeed", "--hold", "4"],
                                environment: env, cgroupProcs: cg.directory + "/cgroup.procs")
        d.sample()
        let end = d.finish()
        #expect(end.reason == .exit && end.status == 0)
        let held = try #require(d.phase("held"))
        #expect(held["governorLimitSource"] as? String == "environment")
        #expect((Self.int(held, "governorOverruns") ?? 0) >= 1)
        #expect(held["governorBackingOff"] as? Bool == true)
        // Steady state while backing off: from the end of the removal phase to the end of the hold.
        let emptied = try #require(d.phase("emptied"))
        let cpu = try #require(Self.int(held, "governorCpuNs")) - (Self.int(emptied, "governorCpuNs") ?? 0)
        let run = try #require(Self.int(held, "governorRunNs")) - (Self.int(emptied, "governorRunNs") ?? 0)
        #expect(Double(cpu) / Double(run) <= 0.01, "governor CPU \(cpu) ns over \(run) ns")
    }
}
