#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import MemProbe
import Testing
import MemProbeTestSupport

/// Issue 12's bar for the commands that came later, against the real binaries: `memprobe watch` and `memprobe profile`
/// check every standard-output write; watch's --record and --plot are opened before the run, written under a
/// temporary name and renamed into place only when complete; profile's -o is checked before the target is asked and
/// a failed write there is reported; every number is checked (also in `memprobe-demo`); SIGHUP stops a watch like
/// SIGINT and SIGTERM.
@Suite("hardening: watch, profile and memprobe-demo", .serialized)
struct WatchProfileHardeningTests {
    /// Standard output to /dev/full through a shell.
    static let toDevFull = ["/bin/sh", "-c", "exec \"$0\" \"$@\" > /dev/full"]

    /// A process to watch: `sleep 600`, killed when the object goes away.
    final class Sleeper {
        let process = Process()
        var pid: String { String(process.processIdentifier) }

        init() throws {
            process.executableURL = URL(fileURLWithPath: "/bin/sleep")
            process.arguments = ["600"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        deinit {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A fresh directory for one test's files (the shared ``TemporaryDirectory``), removed at the end; `entries` shows
    /// everything left in it (temporary files are dot files: they are listed too).
    typealias ScratchDirectory = TemporaryDirectory

    /// The non-empty lines of `text`.
    static func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

    // MARK: 1. every standard-output write is checked

    @Test("1: watch with standard output on a full device: exit 1 with one line", arguments: ["json", "table"])
    func watchFullStandardOutput(format: String) throws {
        let sleeper = try Sleeper()
        let r = try CLIProcess.run(
            ["watch", sleeper.pid, "--format", format, "--interval", "100ms", "--duration", "300ms"], wrapper: Self.toDevFull,
            timeout: 60)
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr) == ["memprobe watch: cannot write to standard output: No space left on device"], "\(r.stderr)")
    }

    @Test("1: watch into a closed pipe: exit 1 with one line (EPIPE, not a SIGPIPE death), its --record not left behind")
    func watchClosedPipe() throws {
        let sleeper = try Sleeper()
        let dir = try ScratchDirectory()
        let r = try CLIProcess.start(
            ["watch", sleeper.pid, "--format", "json", "--interval", "100ms", "--duration", "1h", "--record", dir.file("r.jsonl")],
            closedStandardOutput: true
        ).finish(timeout: 60)
        #expect(!r.timedOut)
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr) == ["memprobe watch: cannot write to standard output: Broken pipe"], "\(r.stderr)")
        #expect(dir.entries.isEmpty, "left behind: \(dir.entries)")
    }

    @Test("1: profile with standard output on a full device or a closed pipe: exit 1 with one line",
          .enabled(if: ProfileCLITests.profilePath != nil, "libunwind.so.8 is not installed: no profile to read"))
    func profileStandardOutput() throws {
        let path = try #require(ProfileCLITests.profilePath)
        let full = try CLIProcess.run(["profile", path], wrapper: Self.toDevFull, timeout: 60)
        #expect(full.status == 1, "exit \(full.status): \(full.stderr)")
        #expect(Self.lines(full.stderr) == ["memprobe profile: cannot write to standard output: No space left on device"], "\(full.stderr)")
        let pipe = try CLIProcess.start(["profile", path, "--format", "json"], closedStandardOutput: true).finish(timeout: 60)
        #expect(pipe.status == 1, "exit \(pipe.status): \(pipe.stderr)")
        #expect(Self.lines(pipe.stderr) == ["memprobe profile: cannot write to standard output: Broken pipe"], "\(pipe.stderr)")
    }

    @Test("1: help printed by ArgumentParser on a full device: exit 1 with one line, not 0", arguments: [
        ["watch", "--help"], ["profile", "--help"], ["--version"],
    ])
    func helpOnFullDevice(args: [String]) throws {
        let r = try CLIProcess.run(args, wrapper: Self.toDevFull, timeout: 60)
        #expect(r.status == 1, "\(args): exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr) == ["memprobe: cannot write to standard output: No space left on device"], "\(r.stderr)")
    }

    /// A path in `dir` no output can be written to: under a missing directory, an existing directory, or a FIFO.
    static func badOutputPath(_ kind: String, in dir: ScratchDirectory, name: String) throws -> String {
        switch kind {
        case "missing directory":
            return dir.file("nonexistent/" + name)
        case "directory":
            let path = dir.file("sub")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            return path
        default:
            let path = dir.file("fifo")
            try #require(mkfifo(path, 0o600) == 0)
            return path
        }
    }

    // MARK: 2. files watch writes itself

    @Test("2: a bad --record or --plot path fails at once (not after --duration): exit 1, one line, nothing created",
          arguments: ["--record", "--plot"], ["missing directory", "directory", "fifo"])
    func badOutputPathFailsAtOnce(option: String, kind: String) throws {
        let sleeper = try Sleeper()
        let dir = try ScratchDirectory()
        let path = try Self.badOutputPath(kind, in: dir, name: "out")
        let before = dir.entries
        let r = try CLIProcess.run(["watch", sleeper.pid, "--duration", "1h", option, path], timeout: 30)
        #expect(!r.timedOut, "\(option) \(kind): still sampling, the path was not checked before the run")
        #expect(r.status == 1, "\(option) \(kind): exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr).count == 1 && r.stderr.hasPrefix("memprobe watch: cannot write \(path): "), "\(r.stderr)")
        #expect(dir.entries == before, "\(option) \(kind): \(dir.entries)")
    }

    @Test("2: --record F --plot F (also spelled ./F) is a usage error; F is not created", arguments: [false, true])
    func sameRecordAndPlot(dotted: Bool) throws {
        let sleeper = try Sleeper()
        let dir = try ScratchDirectory()
        let record = dir.file("r")
        let plot = dotted ? dir.path + "/./r" : record
        let r = try CLIProcess.run(
            ["watch", sleeper.pid, "--interval", "100ms", "--duration", "300ms", "--record", record, "--plot", plot], timeout: 60)
        #expect(r.status == 64, "exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr).first?.contains("--record and --plot name the same file") == true, "\(r.stderr)")
        #expect(dir.entries.isEmpty, "\(dir.entries)")
    }

    @Test("2: --replay F --plot F and --marks F --record F are usage errors; F is untouched")
    func outputOverAnInput() throws {
        let sleeper = try Sleeper()
        let dir = try ScratchDirectory()
        let record = dir.file("r.jsonl")
        let saved = try CLIProcess.run(["watch", sleeper.pid, "--interval", "100ms", "--duration", "300ms", "--record", record], timeout: 60)
        try #require(saved.status == 0, "\(saved.stderr)")
        let text = try String(contentsOfFile: record, encoding: .utf8)
        let replay = try CLIProcess.run(["watch", "--replay", record, "--plot", record], timeout: 60)
        #expect(replay.status == 64, "exit \(replay.status): \(replay.stderr)")
        #expect(Self.lines(replay.stderr).first?.contains("--replay and --plot name the same file") == true, "\(replay.stderr)")
        #expect(try String(contentsOfFile: record, encoding: .utf8) == text)
        let marks = dir.file("marks")
        try "\(Date().timeIntervalSince1970) start\n".write(toFile: marks, atomically: false, encoding: .utf8)
        let r = try CLIProcess.run(
            ["watch", sleeper.pid, "--interval", "100ms", "--duration", "300ms", "--marks", marks, "--record", marks], timeout: 60)
        #expect(r.status == 64, "exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr).first?.contains("--marks and --record name the same file") == true, "\(r.stderr)")
        #expect(try String(contentsOfFile: marks, encoding: .utf8).hasSuffix(" start\n"))
        #expect(dir.entries == ["marks", "r.jsonl"], "\(dir.entries)")
    }

    @Test("2: --record on a full file system stops the watch at the first failed write: exit 1, one line, nothing left",
          .enabled(if: TestEnvironment.isRoot, "needs root to mount a small tmpfs"))
    func recordOnFullFileSystem() throws {
        let fs = try FullFileSystem()
        defer { fs.close() }
        let sleeper = try Sleeper()
        let r = try CLIProcess.run(
            ["watch", sleeper.pid, "--format", "json", "--interval", "100ms", "--duration", "1h",
             "--record", fs.directory + "/r.jsonl", "--plot", fs.directory + "/p.svg"], timeout: 30)
        #expect(!r.timedOut, "still sampling after the record could not be written")
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr) == ["memprobe watch: cannot write \(fs.directory)/r.jsonl: No space left on device"], "\(r.stderr)")
        #expect(fs.leftovers().isEmpty, "left behind: \(fs.leftovers())")
    }

    // MARK: 5. SIGHUP like SIGINT and SIGTERM

    @Test("5: SIGHUP, SIGINT and SIGTERM stop a watch: exit 0, says which, record and plot complete, no temp file",
          arguments: [SIGHUP, SIGINT, SIGTERM])
    func stopSignal(signal: Int32) throws {
        let sleeper = try Sleeper()
        let dir = try ScratchDirectory()
        let run = try CLIProcess.start(
            ["watch", sleeper.pid, "--format", "json", "--interval", "100ms", "--record", dir.file("r.jsonl"), "--plot", dir.file("p.svg")])
        let sampling = run.wait(upTo: 60) { Self.lines(run.stdout).count >= 2 }
        try #require(sampling, "no samples: \(run.stderr)")
        run.signal(signal)
        let r = run.finish(timeout: 60)
        let name = [SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGTERM: "SIGTERM"][signal]!
        #expect(r.status == 0, "\(name): exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr) == ["memprobe watch: stopped by \(name)"], "\(r.stderr)")
        #expect(dir.entries == ["p.svg", "r.jsonl"], "\(dir.entries)")
        // The record holds its header and exactly the samples that were shown.
        let record = Self.lines(try String(contentsOfFile: dir.file("r.jsonl"), encoding: .utf8))
        #expect(record.first?.contains("\"memprobeWatch\":1") == true)
        #expect(Array(record.dropFirst()) == Self.lines(r.stdout), "record \(record.count - 1) samples, shown \(Self.lines(r.stdout).count)")
        let svg = try String(contentsOfFile: dir.file("p.svg"), encoding: .utf8)
        #expect(svg.contains("<polyline") && svg.hasSuffix("</svg>\n"))
    }

    // MARK: 4. numbers: process IDs, times, counts

    @Test("4: watch: a bad process ID, interval or duration is a usage error naming it", arguments: [
        (["-1"], "'-1' is not a process ID"),
        (["99999999999999999999"], "'99999999999999999999' is not a process ID"),
        (["1", "--interval", "-1s"], "--interval must be a time from 10ms to 1h (e.g. 1s, 250ms), got '-1s'"),
        (["1", "--duration", "-5"], "--duration must be a time from 1ms to 7d (e.g. 30s, 5m), got '-5'"),
    ])
    func watchBadNumbers(args: [String], reason: String) throws {
        let r = try CLIProcess.run(["watch"] + args, timeout: 60)
        #expect(r.status == 64, "\(args): exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr).first.map { $0.hasPrefix("Error: ") && $0.contains(reason) } == true, "\(args): \(r.stderr)")
    }

    @Test("4: watch: the same process twice is watched once (one row per sample); with two labels it is a usage error")
    func watchSamePidTwice() throws {
        let sleeper = try Sleeper()
        let r = try CLIProcess.run(
            ["watch", sleeper.pid, sleeper.pid, "--format", "json", "--interval", "100ms", "--duration", "350ms"], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let times = try Self.lines(r.stdout).map { line -> Double in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(object["t"] as? Double)
        }
        #expect(times.count >= 2)
        #expect(Set(times).count == times.count, "a sample time shown more than once: \(times)")
        let labels = try CLIProcess.run(["watch", sleeper.pid, sleeper.pid, "--label", "a", "--label", "b", "--duration", "300ms"], timeout: 60)
        #expect(labels.status == 64, "exit \(labels.status): \(labels.stderr)")
        #expect(labels.stderr.contains("is given twice, with the labels 'a' and 'b'"), "\(labels.stderr)")
    }

    @Test("4: watch and profile -o: a thread id is refused as a thread of its process, exit 2, one line")
    func threadID() throws {
        let thread = try ParkedThread()
        let dir = try ScratchDirectory()
        let watch = try CLIProcess.run(["watch", String(thread.id), "--duration", "300ms", "--record", dir.file("r.jsonl")], timeout: 60)
        #expect(watch.status == 2, "exit \(watch.status): \(watch.stdout)")
        #expect(Self.lines(watch.stderr) == ["memprobe watch: \(thread.id) is a thread of process \(getpid()), not a process; give \(getpid())"],
                "\(watch.stderr)")
        let profile = try CLIProcess.run(["profile", String(thread.id), "-o", dir.file("heap.pb.gz")], timeout: 60)
        #expect(profile.status == 2, "exit \(profile.status): \(profile.stderr)")
        #expect(Self.lines(profile.stderr) == ["memprobe: \(thread.id) is a thread of process \(getpid()), not a process; give \(getpid())"],
                "\(profile.stderr)")
        #expect(dir.entries.isEmpty, "\(dir.entries)")
        withExtendedLifetime(thread) {}
    }

    @Test("4: profile: a bad process ID, --top or --timeout is a usage error naming it", arguments: [
        (["-1", "-o", "/tmp/memprobe-never.pb.gz"], "'-1' is not a process ID"),
        (["0", "-o", "/tmp/memprobe-never.pb.gz"], "'0' is not a process ID"),
        (["99999999999999999999", "-o", "/tmp/memprobe-never.pb.gz"], "'99999999999999999999' is not a process ID"),
        (["heap.pb.gz", "--top", "-1"], "--top must be a whole number from 1 to 1000000, got '-1'"),
        (["heap.pb.gz", "--top", "99999999999999999999"], "--top must be a whole number from 1 to 1000000, got '99999999999999999999'"),
        (["1", "-o", "/tmp/memprobe-never.pb.gz", "--timeout", "-1"], "--timeout must be a time from 1ms to 1h"),
    ])
    func profileBadNumbers(args: [String], reason: String) throws {
        let r = try CLIProcess.run(["profile"] + args, timeout: 60)
        #expect(r.status == 64, "\(args): exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr).first.map { $0.hasPrefix("Error: ") && $0.contains(reason) } == true, "\(args): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/memprobe-never.pb.gz"))
    }

    @Test("4: memprobe-demo: a number or size that is malformed, out of range or past 64 bits is exit 64 naming why", arguments: [
        (["--items", "99999999999999999999"], "--items: '99999999999999999999' is too large (0 to 1099511627776)"),
        (["--keep", "-1"], "--keep: -1 is too small (0 to 1099511627776)"),
        (["--value-size", "99999999999999999999"], "--value-size: '99999999999999999999' is too large (at most 64.0 KiB)"),
        (["--then-allocate", "2T"], "--then-allocate: '2T' is too large (0 B to 1.0 TiB)"),
        (["--then-allocate", "99999999999999999999T"], "--then-allocate: '99999999999999999999T' is too large (at most 1.0 TiB)"),
        (["--hold", "1e10"], "--hold: '1e10' is more than 365 days (31536000 s)"),
        (["--items", "1099511627776", "--value-size", "8"], "--items 1099511627776 × 8 B values is more than 1 TiB"),
    ])
    func demoBadNumbers(args: [String], reason: String) throws {
        let r = try CLIProcess.start(args, program: "memprobe-demo").finish(timeout: 60)
        #expect(r.status == 64, "\(args): exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr).first.map(String.init) == "memprobe-demo: \(reason)", "\(args): \(r.stderr)")
    }

    @Test("4: memprobe-demo --value-size takes a size like 4k (as compare does)")
    func demoValueSizeWithUnit() throws {
        let r = try CLIProcess.start(["--items", "16", "--value-size", "4k", "--hold", "0", "--governor", "off"], program: "memprobe-demo")
            .finish(timeout: 60)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        #expect(r.stdout.contains("\"phase\":\"emptied\""), "\(r.stdout)")
    }

    // MARK: 3. profile -o: the file the target writes

    @Test("3: profile -o: a bad path fails before the process is asked: exit 1, one line, nothing created",
          arguments: ["missing directory", "directory", "fifo"])
    func profileBadOutputPath(kind: String) throws {
        let dir = try ScratchDirectory()
        let path = try Self.badOutputPath(kind, in: dir, name: "heap.pb.gz")
        let before = dir.entries
        // This test process publishes nothing: had the request been sent, the answer would be exit 2, "cannot be asked".
        let r = try CLIProcess.run(["profile", String(getpid()), "-o", path], timeout: 60)
        #expect(r.status == 1, "\(kind): exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr).count == 1 && r.stderr.hasPrefix("memprobe: cannot write \(path): "), "\(r.stderr)")
        #expect(dir.entries == before)
    }

    @Test("3: profile -o into a full file system: the target's failed write is exit 1 with its reason; the old file stays",
          .enabled(if: TestEnvironment.isRoot, "needs root to mount a small tmpfs"),
          .enabled(if: ProfileCLITests.profilePath != nil, "libunwind.so.8 is not installed: the demo samples nothing"))
    func profileTargetWriteFails() throws {
        let fs = try FullFileSystem()
        defer { fs.close() }
        let path = fs.directory + "/heap.pb.gz"
        try #require(FileManager.default.createFile(atPath: path, contents: nil), "an (empty) old profile")
        let old = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        let d = try ServiceDemoTests.RunningDemo(["--items", "4096", "--value-size", "64", "--hold", "120"])
        defer { kill(d.pid, SIGTERM); _ = d.finish() }
        d.sample(timeout: .seconds(60)) { $0.phase("emptied") != nil }
        try #require(d.phase("emptied") != nil, "the demo did not start")
        let r = try CLIProcess.run(["profile", "\(d.pid)", "-o", path, "--timeout", "20"], timeout: 60)
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
        #expect(Self.lines(r.stderr) == ["memprobe: process \(d.pid) could not write \(path): No space left on device"], "\(r.stderr)")
        #expect(fs.leftovers() == ["heap.pb.gz"], "left behind: \(fs.leftovers())")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int == old, "the old file was replaced")
    }

    @Test("3: profile -o: a process that answers without writing FILE is not believed; the old FILE is not shown as its profile")
    func answerWithoutWriting() async throws {
        let dir = try ScratchDirectory()
        let path = dir.file("heap.pb.gz")
        try "an old file\n".write(toFile: path, atomically: false, encoding: .utf8)
        var c = MemoryGovernor.Configuration(memoryLimit: .off)
        c.arenas = []
        c.metricsInterval = .seconds(3600)
        c.requestHandler = { _ in 0 }  // says "done" and writes nothing
        let governor = try MemoryGovernor(configuration: c)
        let task = Task { try await governor.run() }
        let published = PublishedStatsLocation.path(pid: getpid(), uid: geteuid())
        var publishing = false
        for _ in 0..<500 where !publishing {
            publishing = FileManager.default.fileExists(atPath: published)
            if !publishing { try await Task.sleep(for: .milliseconds(20)) }
        }
        let r = try CLIProcess.run(["profile", String(getpid()), "-o", path, "--timeout", "20"], timeout: 60)
        task.cancel()
        _ = try? await task.value
        try #require(publishing, "the governor published no file at \(published)")
        #expect(r.status == 2, "exit \(r.status): \(r.stdout) \(r.stderr)")
        #expect(Self.lines(r.stderr) == ["memprobe: process \(getpid()) answered but did not write \(path) (it is unchanged)"], "\(r.stderr)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "an old file\n")
        #expect(!FileManager.default.fileExists(atPath: published), "the governor's file outlived it")
    }
}
