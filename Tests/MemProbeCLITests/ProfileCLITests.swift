import Foundation
import MemProbeArena
import MemProbeProfile
import Testing
import MemProbeTestSupport

@inline(never)
func allocateForProfileCLITest(_ arena: PageArena) throws -> [UnsafeMutableRawPointer] {
    try (0..<16).map { _ in try arena.allocate(byteCount: 128 << 10) }
}

@Suite("memprobe profile")
struct ProfileCLITests {
    /// A real profile written by this process: 16 × 128 KiB from one named function, every allocation sampled.
    static let profilePath: String? = {
        var c = PageArena.Configuration()
        c.heapProfileInterval = 4 << 10
        let arena = PageArena(configuration: c)
        guard arena.heapSampler != nil, let blocks = try? allocateForProfileCLITest(arena) else { return nil }
        defer { for b in blocks { arena.deallocate(b, byteCount: 128 << 10) } }
        let path = NSTemporaryDirectory() + "memprobe-cli-profile-\(getpid()).pb.gz"
        guard let bytes = try? HeapProfile.profile(of: [arena]) else { return nil }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }()

    @Test(.enabled(if: profilePath != nil, "libunwind.so.8 is not installed: no profile to read"))
    func topSitesAsTableAndJSON() throws {
        let path = try #require(Self.profilePath)
        let table = try CLIProcess.run(["profile", path])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("inuse_space: total 2.0MiB"), "\(table.stdout)")
        #expect(table.stdout.contains("allocateForProfileCLITest"))
        let json = try CLIProcess.run(["profile", path, "--format", "json", "--sample-index", "alloc_objects", "--top", "1"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try json.jsonObject()
        #expect(object["sampleType"] as? String == "alloc_objects")
        #expect(object["total"] as? Int == 16)
        #expect((object["sites"] as? [Any])?.count == 1)
    }

    @Test(.enabled(if: profilePath != nil, "libunwind.so.8 is not installed: no profile to read"))
    func corruptOrTruncatedProfileExits65WithOneLine() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try #require(Self.profilePath)))
        let path = NSTemporaryDirectory() + "memprobe-cli-truncated-\(getpid()).pb.gz"
        defer { try? FileManager.default.removeItem(atPath: path) }
        for cut in [bytes.count / 2, bytes.count - 1, 10] {
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: path))
            let r = try CLIProcess.run(["profile", path])
            #expect(r.status == 65, "cut at \(cut): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("corrupt gzip data"), "\(r.stderr)")
        }
        try Data("plain text, not a profile\n".utf8).write(to: URL(fileURLWithPath: path))
        let text = try CLIProcess.run(["profile", path])
        #expect(text.status == 65 && text.stderr.contains("not a valid pprof profile"), "\(text.stderr)")
    }

    @Test func missingFileUnknownSampleTypeAndBadArguments() throws {
        let missing = try CLIProcess.run(["profile", "/nonexistent/heap.pb.gz"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot open /nonexistent/heap.pb.gz"), "\(missing.stderr)")
        #expect(try CLIProcess.run(["profile", "x", "--top", "0"]).status == 64)
        #expect(try CLIProcess.run(["profile", "notapid", "-o", "/tmp/x.pb.gz"]).status == 64)
        if let path = Self.profilePath {
            let r = try CLIProcess.run(["profile", path, "--sample-index", "cpu"])
            #expect(r.status == 64 && r.stderr.contains("inuse_space"), "\(r.stderr)")
        }
    }

    /// A process that does not exist, or one that links no memprobe (this test runner publishes nothing): exit 2, one line.
    @Test func fetchingFromAProcessWithoutAChannelExits2() throws {
        let r = try CLIProcess.run(["profile", "\(getpid())", "-o", NSTemporaryDirectory() + "memprobe-never.pb.gz"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("cannot be asked for a heap profile"))
        let gone = try CLIProcess.run(["profile", "999999", "-o", NSTemporaryDirectory() + "memprobe-never.pb.gz"])
        #expect(gone.status == 2 && gone.stderr.contains("process 999999 does not exist"), "\(gone.stderr)")
    }

    /// An invalid MEMPROBE_PROFILE_RATE stops the process at its first arena with the accepted forms.
    @Test func invalidRateIsAStartupError() throws {
        let bench = CLIProcess.executable.deletingLastPathComponent().appendingPathComponent("memprobe-bench")
        try #require(FileManager.default.isExecutableFile(atPath: bench.path))
        let r = try runProcess(bench.path, ["profile", "--stacks", "1", "--entries", "1000", "--kib-entries", "1000", "--runs", "1"],
                               environment: ["MEMPROBE_PROFILE_RATE": "12x", "SWIFT_BACKTRACE": "enable=no"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("MEMPROBE_PROFILE_RATE='12x' is not a size"), "\(r.stderr)")
    }
}
