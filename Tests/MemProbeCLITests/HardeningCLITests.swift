#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import MemProbe
import MemProbeCompare
import MemProbeSystem
import Synchronization
import Testing
import MemProbeTestSupport

/// The defects of issue 12, one test (or more) each, against the real binary: bad input never crashes, hangs or
/// loses output silently, and no worker or cgroup outlives a run.
@Suite("hardening: compare and snapshot")
struct HardeningCLITests {
    static let cgroupParent = MemoryCgroup.managementSupport().parent
    static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    /// Whether uid 65534 can execute the test build of memprobe (the build folder may be private).
    static let canRunAsNobody: Bool = {
        guard TestEnvironment.isRoot, FileManager.default.isExecutableFile(atPath: nobody[0]) else { return false }
        return (try? CLIProcess.run(["--version"], wrapper: nobody, timeout: 30).status) == 0
    }()
    /// A compare child that starts aborts at once: a test that sees "killed by signal 6" knows a child ran.
    static let crashAtStart = ["MEMPROBE_COMPARE_CRASH_AFTER": "start@dictionary"]

    // MARK: 1. sizes

    @Test("1: a run too large for any machine is refused in EiB, with no trap and no endless loop", arguments: [
        ["--items", "10000000000000000"],
        ["--items", "4611686018427387904"],
        ["--items", String(Int.max)],
        ["--items", "100000000000000", "--value-size", "64k"],
    ])
    func oversizedRunsAreRefused(args: [String]) throws {
        let r = try CLIProcess.run(["compare"] + args, timeout: 20)
        #expect(!r.timedOut, "\(args): still running after 20 s (endless size estimate)")
        #expect(r.status == 1, "\(args): exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("EiB") && !r.stderr.contains("PiB"), "\(args): \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
    }

    @Test("1: the estimate is overflow-checked and byte units reach EiB")
    func estimateIsChecked() {
        #expect(CompareEstimate.peakBytes(items: Int.max, valueSize: 1024) == nil)
        #expect(CompareEstimate.peakBytes(items: 1 << 62, valueSize: 8) == nil)
        #expect(CompareEstimate.peakBytes(items: 100_000_000_000_000, valueSize: 65536) == nil)
        let small = CompareEstimate.peakBytes(items: 1_000_000, valueSize: 1024)
        // 2^21 buckets × 1.5 × (1024 + 8) B + 64 MiB.
        #expect(small == (1 << 21) * 3 / 2 * 1032 + (64 << 20))
        #expect(ByteFormat.human(Int.max) == "8.0 EiB")
        #expect(ByteFormat.human(6 << 60) == "6.0 EiB")
    }

    // MARK: 2. writes

    @Test("2: standard output on a full device: exit 1 with one line", arguments: [
        ["compare", "--items", "1000", "--contenders", "dictionary"],
        ["snapshot", "--self", "--format", "json"],
        ["snapshot", "--self", "--format", "prometheus"],
    ])
    func fullStandardOutput(args: [String]) throws {
        let r = try CLIProcess.run(args, wrapper: ["/bin/sh", "-c", "exec \"$0\" \"$@\" > /dev/full"], timeout: 120)
        #expect(r.status == 1, "\(args): exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
    }

    @Test("2: standard output a closed pipe: exit 1 with one line (EPIPE, not a silent SIGPIPE)")
    func closedPipe() throws {
        let p = Process()
        p.executableURL = CLIProcess.executable
        p.arguments = ["snapshot", "--self", "--format", "json"]
        let pipe = Pipe()
        p.standardOutput = pipe
        // Standard error to a file: a pipe would need its write end closed in this process too, or reading hangs.
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-err-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let err = try #require(FileHandle(forWritingAtPath: errPath))
        p.standardError = err
        try pipe.fileHandleForReading.close()
        try p.run()
        try pipe.fileHandleForWriting.close()
        try err.close()
        p.waitUntilExit()
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        #expect(p.terminationReason == .exit && p.terminationStatus == 1, "\(p.terminationReason) \(p.terminationStatus): \(stderr)")
        #expect(stderr.contains("Broken pipe"), "\(stderr)")
    }

    @Test("2: --output and --plot on a full file system: exit 1, nothing left under either name",
          .enabled(if: TestEnvironment.isRoot, "needs root to mount a small tmpfs"))
    func fullFileSystem() throws {
        // Filled to the last byte: the (empty) temporary files can be created, their contents cannot.
        let full = try FullFileSystem(size: 64 << 10)
        defer { full.close() }
        let dir = full.directory
        for (option, name) in [("--output", "report.json"), ("--plot", "chart.svg")] {
            let r = try CLIProcess.run([
                "compare", "--items", "1000", "--contenders", "dictionary,arena:dontNeed", "--format", "json", option, dir + "/" + name,
            ], timeout: 120)
            #expect(r.status == 1, "\(option): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/" + name), "\(option): a truncated \(name) was left")
            #expect(full.leftovers().isEmpty, "temporary files left: \(full.leftovers())")
        }
    }

    @Test("2: --output replaces an existing file only when the new report is complete")
    func outputIsRenamedIntoPlace() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-out-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        var st = stat()
        stat(path, &st)
        let before = st.st_ino
        let r = try CLIProcess.run(["compare", "--items", "1000", "--contenders", "dictionary", "--format", "csv", "--output", path], timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("scenario,") || text.contains("dictionary"), "\(text.prefix(200))")
        stat(path, &st)
        #expect(st.st_ino != before, "written through a new file renamed into place, not truncated in place")
    }

    // MARK: 3. orphans and cgroups

    /// Starts a long compare, waits for its worker, and returns both pids. The default worker inserts 4 million
    /// 8-byte values into a Dictionary (~100 MiB, several seconds in a debug build) and writes nothing meanwhile,
    /// so it cannot die of SIGPIPE on a write to its dead parent's pipe during the test's check.
    func startCompare(_ extra: [String], contenders: String = "dictionary") throws -> (Process, Int32) {
        let p = Process()
        p.executableURL = CLIProcess.executable
        p.arguments = ["compare", "--items", "4000000", "--value-size", "8", "--contenders", contenders, "--format", "json"] + extra
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        guard let worker = firstChild(of: p.processIdentifier, within: .seconds(10)) else {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw CompareHardeningError("no worker child appeared")
        }
        // Wait until it is inserting (RSS past 40 MiB: long past its start-up), then stop it. A stopped worker writes
        // nothing, so it cannot die of SIGPIPE on its dead parent's pipe: only PR_SET_PDEATHSIG's SIGKILL (which
        // also ends a stopped process) can end it within the test's second.
        for _ in 0..<2000 {
            let status = (try? String(contentsOfFile: "/proc/\(worker)/status", encoding: .utf8)) ?? ""
            let rssKiB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
                .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
            if rssKiB > 40 << 10 { break }
            usleep(10_000)
        }
        kill(worker, SIGSTOP)
        return (p, worker)
    }

    /// Waits up to 1 s for `pid` to be gone (reaped by init once orphaned): PR_SET_PDEATHSIG acts at once.
    func waitGone(_ pid: Int32) -> Bool {
        for _ in 0..<100 {
            if kill(pid, 0) != 0 { return true }
            // A zombie waiting for init counts as gone: it holds no memory.
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
               stat.split(separator: ")").last?.split(separator: " ").first == "Z" { return true }
            usleep(10_000)
        }
        return false
    }

    @Test("3: SIGKILL of compare: the worker dies with it (PR_SET_PDEATHSIG)")
    func workerDiesWithParent() throws {
        let (p, worker) = try startCompare([])
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let gone = waitGone(worker)
        if !gone { kill(worker, SIGKILL) }
        #expect(gone, "worker \(worker) outlived its SIGKILLed parent")
    }

    @Test("3: SIGHUP ends compare like SIGINT: worker killed, exit 129")
    func hangUp() throws {
        let (p, worker) = try startCompare([])
        kill(p.processIdentifier, SIGHUP)
        for _ in 0..<1000 where p.isRunning { usleep(10_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 128 + SIGHUP, "\(p.terminationReason) \(p.terminationStatus)")
        let gone = waitGone(worker)
        if !gone { kill(worker, SIGKILL) }
        #expect(gone, "worker \(worker) outlived its parent")
    }

    @Test("3: SIGKILL of compare --memory-limit: no worker and, after the next start, no cgroup remains",
          .enabled(if: cgroupParent != nil, "needs root and a writable memory cgroup"))
    func sigkillLeavesNoCgroup() throws {
        let parent = try #require(Self.cgroupParent)
        let (p, worker) = try startCompare(["--memory-limit", "1G"])
        let name = "memprobe-compare-\(p.processIdentifier)-1"
        #expect(FileManager.default.fileExists(atPath: parent.directory + "/" + name))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let gone = waitGone(worker)
        if !gone { kill(worker, SIGKILL) }
        #expect(gone, "worker \(worker) outlived its SIGKILLed parent")
        // Nothing could remove the cgroup of a SIGKILLed run; the next run does.
        let r = try CLIProcess.run(["compare", "--items", "1000", "--contenders", "dictionary", "--memory-limit", "64M"], timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: parent.directory + "/" + name), "stale cgroup \(name) left")
    }

    // MARK: 4. enclosing cgroup

    @Test("4: inside a cgroup with a small limit, compare is refused with the limit's figure",
          .enabled(if: cgroupParent != nil, "needs root and a writable memory cgroup"))
    func refusedInsideSmallCgroup() throws {
        let parent = try #require(Self.cgroupParent)
        let pod = try parent.createChild(named: "memprobe-test-pod-\(getpid())-\(UInt16.random(in: 0...UInt16.max))", limitBytes: 256 << 20)
        defer { try? pod.remove(timeout: .seconds(5)) }
        let r = try CLIProcess.run(
            ["compare", "--contenders", "dictionary,arena:dontNeed"],
            wrapper: ["/bin/sh", "-c", "echo $$ > '\(pod.directory)/cgroup.procs' && exec \"$0\" \"$@\""],
            environment: ProcessInfo.processInfo.environment.merging(Self.crashAtStart) { $1 }, timeout: 120)
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("256.0 MiB") && r.stderr.contains(pod.directory), "\(r.stderr)")
        #expect(!r.stderr.contains("killed by"), "a child ran: \(r.stderr)")
    }

    // MARK: 5. output paths

    @Test("5: bad --output/--plot paths fail before the first child runs", arguments: [
        ["--output", "/proc/x"],
        ["--output", "/tmp"],
        ["--plot", "/nonexistent-memprobe-dir/p.svg"],
    ])
    func badOutputPathsFailFirst(args: [String]) throws {
        let r = try CLIProcess.run(
            ["compare", "--items", "2000", "--contenders", "dictionary"] + args,
            environment: ProcessInfo.processInfo.environment.merging(Self.crashAtStart) { $1 }, timeout: 120)
        #expect(r.status == 1, "\(args): exit \(r.status)")
        #expect(r.stderr.contains("cannot write"), "\(r.stderr)")
        #expect(!r.stderr.contains("killed by"), "a child ran before the path was checked: \(r.stderr)")
    }

    @Test("5: --output F --plot F is a usage error; F is not created")
    func sameOutputAndPlot() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-same-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try CLIProcess.run(["compare", "--items", "2000", "--contenders", "dictionary", "--output", path, "--plot", path], timeout: 120)
        #expect(r.status == 64, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("same file"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    // MARK: 6. --keep

    @Test("6: --keep ≥ --items is a usage error naming both", arguments: [["1000", "1000"], ["5000", "1000"]])
    func keepNotBelowItems(pair: [String]) throws {
        let r = try CLIProcess.run(["compare", "--scenario", "keep", "--keep", pair[0], "--items", pair[1]], timeout: 120)
        #expect(r.status == 64, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("--keep") && r.stderr.contains("--items"), "\(r.stderr)")
    }

    // MARK: 8. MEMPROBE_RELEASE

    @Test("8: MEMPROBE_RELEASE: a typo is a usage error; a valid value says compare does not use it")
    func releaseEnvironment() throws {
        var env = ProcessInfo.processInfo.environment
        env["MEMPROBE_RELEASE"] = "dontneed-typo"
        let bad = try CLIProcess.run(["snapshot", "--self", "--fast"], environment: env, timeout: 60)
        #expect(bad.status == 64, "exit \(bad.status): \(bad.stderr)")
        #expect(bad.stderr.contains("MEMPROBE_RELEASE") && bad.stderr.contains("lazyFree"), "\(bad.stderr)")
        env["MEMPROBE_RELEASE"] = "lazyFree"
        let ok = try CLIProcess.run(["compare", "--items", "1000", "--contenders", "dictionary"], environment: env, timeout: 120)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stderr.contains("MEMPROBE_RELEASE=lazyFree has no effect"), "\(ok.stderr)")
    }

    // MARK: 9. smaller

    @Test("9: snapshot -1 names the bad process ID")
    func negativePid() throws {
        let r = try CLIProcess.run(["snapshot", "-1"], timeout: 60)
        #expect(r.status == 64)
        #expect(r.stderr.contains("'-1' is not a process ID"), "\(r.stderr)")
    }

    @Test("9: the same pid twice gives one Prometheus series")
    func duplicatePid() throws {
        let me = String(getpid())
        let r = try CLIProcess.run(["snapshot", me, me, "--fast", "--format", "prometheus"], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let series = r.stdout.split(separator: "\n").filter { $0.hasPrefix("memprobe_rss_bytes{") }
        #expect(series.count == 1, "\(series)")
    }

    @Test("9: --fast says nothing on stderr (what it skips is in its output)")
    func fastIsQuiet() throws {
        for format in ["json", "prometheus"] {
            let r = try CLIProcess.run(["snapshot", "--self", "--fast", "--format", format], timeout: 60)
            #expect(r.status == 0)
            #expect(r.stderr.isEmpty, "\(format): \(r.stderr)")
        }
    }

    @Test("9: a thread id is refused as a thread of its process, exit 2")
    func threadID() throws {
        // A thread that lives through the run: its task id is not a process id.
        let thread = try ParkedThread()
        let id = thread.id
        let r = try CLIProcess.run(["snapshot", String(id), "--fast"], timeout: 60)
        #expect(r.status == 2, "exit \(r.status): \(r.stdout)")
        #expect(r.stderr.contains("thread of process \(getpid())"), "\(r.stderr)")
        withExtendedLifetime(thread) {}  // the thread lives through the run
    }

    @Test("9: the table header does not name smaps_rollup when it was denied",
          .enabled(if: canRunAsNobody, "needs root, setpriv and a build folder uid 65534 may execute"))
    func deniedHeader() throws {
        let r = try CLIProcess.run(["snapshot", String(getpid())], wrapper: Self.nobody, timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let header = try #require(r.stdout.split(separator: "\n").first { $0.contains("kernel view") })
        #expect(!header.contains("smaps_rollup"), "\(header)")
        #expect(r.stdout.contains("smapsRollup"), "the table's 'not read' lists it")
    }

    @Test("9: memprobe help <unknown> is a usage error")
    func helpUnknown() throws {
        let r = try CLIProcess.run(["help", "nosuch"], timeout: 60)
        #expect(r.status == 64, "exit \(r.status)")
        #expect(r.stderr.contains("nosuch") && r.stderr.contains("compare"), "\(r.stderr)")
        #expect(try CLIProcess.run(["help", "compare"], timeout: 60).status == 0)
    }

    @Test("9: compare --help at 80 columns breaks no example inside a command; help and error agree on value sizes")
    func compareHelp() throws {
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = "80"
        let r = try CLIProcess.run(["compare", "--help"], environment: env, timeout: 60)
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.hasPrefix("Examples:") })
        for line in lines[(start + 1)...].prefix { !$0.isEmpty } {
            // Every line of an example is a command or the continuation of one after a trailing backslash.
            #expect(line.hasPrefix("  memprobe compare") || line.hasPrefix("    --"), "wrapped example line: '\(line)'")
            #expect(line.count <= 80, "too wide: \(line)")
        }
        #expect(r.stdout.contains("1 B … 64 KiB"), "help states the smallest value size")
        let e = try CLIProcess.run(["compare", "--value-size", "128k"], timeout: 60)
        #expect(e.stderr.contains("1 B … 64 KiB"), "\(e.stderr)")
    }
}

struct CompareHardeningError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
