import Foundation
import MemProbeTestSupport
import Testing

@testable import MemProbeSystem

private func statValue(_ text: String, _ key: String) -> Int? {
    for line in text.split(separator: "\n") {
        let f = line.split(separator: " ")
        if f.count == 2, f[0] == key { return Int(f[1]) }
    }
    return nil
}

@Suite("MemoryCgroup parsing")
struct MemoryCgroupParsingTests {
    @Test func procCgroupV1AndV2Lines() {
        let text = """
            9:name=systemd:/
            4:memory:/process_api/abc
            2:cpu,cpuacct:/x:y
            0::/user.slice/session-1.scope

            """
        let e = parseProcCgroup(text)
        #expect(e.count == 4)
        #expect(e[1] == ProcCgroupEntry(hierarchyID: 4, controllers: ["memory"], path: "/process_api/abc"))
        #expect(e[2].controllers == ["cpu", "cpuacct"])
        #expect(e[2].path == "/x:y")  // a ':' inside the path is kept
        #expect(e[3] == ProcCgroupEntry(hierarchyID: 0, controllers: [], path: "/user.slice/session-1.scope"))
    }

    @Test func mountinfoFindsV1MemoryAndV2() {
        let text = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:5 - cgroup cgroup rw,name=systemd
            41 31 0:38 /kubepods/pod1 /sys/fs/cgroup/my\\040dir rw,relatime - cgroup2 cgroup2 rw,nsdelegate
            """
        let m = parseCgroupMounts(text)
        #expect(m.count == 3)
        #expect(m[0] == CgroupMount(version: .v1, root: "/", mountPoint: "/sys/fs/cgroup/memory", superOptions: ["rw", "memory"]))
        #expect(m[1].superOptions.contains("name=systemd"))
        #expect(m[2].version == .v2)
        #expect(m[2].root == "/kubepods/pod1")
        #expect(m[2].mountPoint == "/sys/fs/cgroup/my dir")
    }

    @Test func joinStripsTheMountRoot() {
        #expect(joinCgroupPath(mountPoint: "/sys/fs/cgroup", mountRoot: "/", path: "/a/b") == "/sys/fs/cgroup/a/b")
        #expect(joinCgroupPath(mountPoint: "/sys/fs/cgroup", mountRoot: "/", path: "/") == "/sys/fs/cgroup")
        #expect(joinCgroupPath(mountPoint: "/sys/fs/cgroup", mountRoot: "/kube/pod", path: "/kube/pod/c1") == "/sys/fs/cgroup/c1")
    }

    @Test func statKeepsEveryKeyAndPrefersHierarchicalOnV1() {
        let v1 = MemoryCgroupStat(
            parsing: "cache 100\nrss 200\ninactive_file 30\ntotal_cache 1000\ntotal_rss 2000\ntotal_inactive_file 300\nweird\nhierarchical_memory_limit 9223372036854771712\n",
            version: .v1)
        #expect(v1.file == 1000)
        #expect(v1.anon == 2000)
        #expect(v1.inactiveFile == 300)
        #expect(v1["inactive_file"] == 30)
        #expect(v1.activeFile == nil)  // missing is absent, not zero
        #expect(v1.values.count == 7)

        let v2 = MemoryCgroupStat(parsing: "anon 4096\nfile 8192\ninactive_file 4096\nanon_thp 0\nfile_mapped 12\n", version: .v2)
        #expect(v2.anon == 4096)
        #expect(v2.file == 8192)
        #expect(v2.anonHugePages == 0)
        #expect(v2.mappedFile == 12)
    }

    @Test func snapshotDerivesWorkingSetAndHeadroom() {
        let stat = MemoryCgroupStat(version: .v2, values: ["inactive_file": 30 << 20, "anon": 50 << 20])
        let s = MemoryCgroupSnapshot(
            version: .v2, directory: "/x", usage: 100 << 20, limit: 256 << 20, effectiveLimit: 256 << 20,
            stat: stat, oomKills: 0, failCount: 0)
        #expect(s.workingSet == 70 << 20)
        #expect(s.headroom == 186 << 20)
        let unlimited = MemoryCgroupSnapshot(
            version: .v2, directory: "/x", usage: 10, limit: nil, effectiveLimit: nil,
            stat: MemoryCgroupStat(version: .v2, values: ["inactive_file": 20]), oomKills: nil, failCount: nil)
        #expect(unlimited.workingSet == 0)  // floored, as cAdvisor does
        #expect(unlimited.headroom == nil)
    }

    @Test func snapshotEncodesAsJSON() throws {
        let s = MemoryCgroupSnapshot(
            version: .v1, directory: "/d", usage: 1, limit: nil, effectiveLimit: nil,
            stat: MemoryCgroupStat(version: .v1, values: ["rss": 1]), oomKills: 0, failCount: 0)
        let data = try JSONEncoder().encode(s)
        let back = try JSONDecoder().decode(MemoryCgroupSnapshot.self, from: data)
        #expect(back == s)
    }

    @Test func unknownPidIsProcessNotFound() {
        #expect(throws: MemoryCgroupError.processNotFound(pid: 999_999_99)) { try MemoryCgroup.of(pid: 999_999_99) }
    }

    @Test("a directory that is not a memory cgroup is named as such (no invented pid 0)")
    func notAMemoryCgroup() {
        #expect(throws: MemoryCgroupError.notAMemoryCgroup(directory: "/tmp")) { try MemoryCgroup(directory: "/tmp") }
    }

    @Test("cgroup changes go through the system layer's choke points (a mocked mkdir failure is reported as such)")
    func cgroupWritesAreMockable() {
        let cg = MemoryCgroup(version: .v1, directory: "/nonexistent")
        let mock = SyscallMock()
        mock.fail(.mkdir, with: .readOnlyFileSystem)
        SyscallMock.$current.withValue(mock) {
            #expect(throws: MemoryCgroupError.file(
                path: "/nonexistent/x", SystemCallError(call: "mkdir", errno: .readOnlyFileSystem))) {
                try cg.createChild(named: "x", limitBytes: nil)
            }
        }
        #expect(mock.injected(.mkdir) == 1)
    }

    @Test func invalidChildNamesAreRejected() throws {
        let cg = MemoryCgroup(version: .v1, directory: "/nonexistent")
        for name in ["", ".", "..", "a/b"] {
            #expect(throws: MemoryCgroupError.invalidName(name)) { try cg.createChild(named: name, limitBytes: nil) }
        }
    }
}

@Suite("MemoryCgroup of this process", .enabled(if: TestEnvironment.hasMemoryCgroup, "this process has no memory cgroup"))
struct MemoryCgroupOwnTests {
    static let own: MemoryCgroup? = {
        try? MemoryCgroup.current()
    }()

    @Test(.enabled(if: Self.own != nil, "this process has no memory cgroup the kernel exposes"))
    func detectsTheOwnCgroupFromProcSelfCgroup() throws {
        let cg = try #require(Self.own)
        let text = try #require(readWholeFile("/proc/self/cgroup"))
        if let line = text.split(separator: "\n").first(where: { $0.split(separator: ":")[1].split(separator: ",").contains("memory") }) {
            let path = String(line.split(separator: ":", maxSplits: 2)[2])
            #expect(cg.version == .v1)
            #expect(cg.directory.hasSuffix(path == "/" ? "" : path))
            #expect(FileManager.default.fileExists(atPath: cg.directory + "/memory.usage_in_bytes"))
        } else {
            #expect(cg.version == .v2)
            #expect(FileManager.default.fileExists(atPath: cg.directory + "/memory.current"))
        }
        #expect(try cg.processes().contains(getpid()))
        #expect(try MemoryCgroup(directory: cg.directory) == cg)
    }

    @Test(.enabled(if: Self.own != nil, "this process has no memory cgroup the kernel exposes"))
    func readsMatchTheFiles() throws {
        let cg = try #require(Self.own)
        let usageFile = cg.version == .v1 ? "/memory.usage_in_bytes" : "/memory.current"
        let before = try #require(Int(readWholeFile(cg.directory + usageFile)!.trimmingCharacters(in: .whitespacesAndNewlines)))
        let usage = try cg.usage()
        let after = try #require(Int(readWholeFile(cg.directory + usageFile)!.trimmingCharacters(in: .whitespacesAndNewlines)))
        // Usage moves while other threads run; it must lie near the two independent reads.
        #expect(usage >= min(before, after) - (8 << 20) && usage <= max(before, after) + (8 << 20))

        let limitText = readWholeFile(cg.directory + (cg.version == .v1 ? "/memory.limit_in_bytes" : "/memory.max"))!
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if let l = try cg.limit() {
            #expect(String(l) == limitText)
        } else {
            #expect(limitText == "max" || (Int(limitText) ?? 0) >= 1 << 62)
        }

        let stat = try cg.stat()
        let statText = try #require(readWholeFile(cg.directory + "/memory.stat"))
        #expect(stat.values.count == statText.split(separator: "\n").count)
        #expect(stat.anon != nil && stat.file != nil && stat.inactiveFile != nil)
        #expect(try cg.oomKillCount() != nil)
        print("own cgroup \(cg): usage \(usage) limit \(String(describing: try cg.limit())) anon \(stat.anon ?? -1)")
    }

    #if ENABLE_MOCKING
    @Test(.enabled(if: Self.own != nil, "this process has no memory cgroup the kernel exposes"))
    func injectedErrorsCarryPathAndErrno() throws {
        let cg = try #require(Self.own)
        let mock = SyscallMock()
        try SyscallMock.$current.withValue(mock) { () throws -> Void in
            // EINTR is retried by the choke points: the read still succeeds.
            mock.fail(.read, with: .interrupted, count: 3)
            #expect(try cg.usage() > 0)
            #expect(mock.injected(.read) == 3)

            mock.fail(.open, with: .permissionDenied)
            let file = cg.directory + (cg.version == .v1 ? "/memory.usage_in_bytes" : "/memory.current")
            #expect(throws: MemoryCgroupError.file(path: file, SystemCallError(call: "read(\(file))", errno: .permissionDenied))) {
                try cg.usage()
            }
            // The process exits between open and read: "no such process", not a partial answer.
            mock.fail(.read, with: .noSuchProcess)
            #expect(throws: MemoryCgroupError.processNotFound(pid: getpid())) { try MemoryCgroup.of(pid: getpid()) }
        }
    }
    #endif

    @Test(.enabled(if: Self.own != nil, "this process has no memory cgroup the kernel exposes"))
    func workingSetIsUsageMinusInactiveFile() throws {
        let cg = try #require(Self.own)
        let s = try cg.snapshot()
        let inactiveKey = cg.version == .v1 ? "total_inactive_file" : "inactive_file"
        let inactive = try #require(s.stat[inactiveKey])
        #expect(s.inactiveFile == inactive)
        #expect(s.workingSet == max(0, s.usage - inactive))
        // Against the files read independently right after.
        let usageFile = cg.version == .v1 ? "/memory.usage_in_bytes" : "/memory.current"
        let usage = Int(readWholeFile(cg.directory + usageFile)!.trimmingCharacters(in: .whitespacesAndNewlines))!
        let inactiveNow = statValue(readWholeFile(cg.directory + "/memory.stat")!, inactiveKey)!
        #expect(abs((usage - inactiveNow) - s.workingSet) < 16 << 20)
        if let limit = s.limit { #expect(s.headroom == max(0, limit - s.workingSet)) } else { #expect(s.headroom == nil) }
    }
}

// MARK: Root-only: a real child cgroup with a limit

/// A `python3` child that waits for a line on stdin, then allocates and writes `mebibytes` MiB,
/// prints "ready", and waits for another line before exiting.
private final class AllocatingChild {
    let pid: pid_t
    private let stdinWrite: Int32
    private let stdoutRead: Int32

    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    init(python: String, mebibytes: Int) throws {
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        // pipe2 is not visible from Swift's Glibc; set FD_CLOEXEC at once so parallel spawns do not inherit.
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let script = """
            import sys
            n = int(sys.argv[1]); sys.stdin.readline()
            b = bytearray(b'\\x01') * (n << 20)
            print('ready', flush=True); sys.stdin.readline()
            """
        do {
            pid = try spawnProcess(python, ["-c", script, String(mebibytes)], stdin: toChild[0], stdout: fromChild[1])
        } catch {
            for fd in toChild + fromChild { close(fd) }
            throw error
        }
        close(toChild[0])
        close(fromChild[1])
        self.stdinWrite = toChild[1]
        self.stdoutRead = fromChild[0]
    }

    func sendLine() { _ = write(stdinWrite, "\n", 1) }

    /// The first line the child prints, or nil at end of file (it died).
    func readLine() -> String? {
        var bytes: [UInt8] = []
        var b: UInt8 = 0
        while read(stdoutRead, &b, 1) == 1 {
            if b == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(b)
        }
        return nil
    }

    private var reaped = false

    /// A test that fails midway must not leave a child waiting on stdin forever.
    deinit {
        if !reaped {
            kill(pid, SIGKILL)
            _ = wait()
        }
    }

    /// Waits for the child; returns the signal that killed it, or nil when it exited.
    func wait() -> Int32? {
        reaped = true
        close(stdinWrite)
        close(stdoutRead)
        let status = reap(pid)
        let sig = status & 0x7f
        return sig != 0 && sig != 0x7f ? sig : nil
    }
}

@Suite("MemoryCgroup management (root)", .enabled(if: TestEnvironment.canManageCgroups, "needs root and a writable memory cgroup"))
struct MemoryCgroupManagementTests {
    @Test(.enabled(if: AllocatingChild.python != nil, "no python3 to allocate memory in a child"))
    func childCgroupChargesAndOOMKills() throws {
        let parent = try #require(TestEnvironment.cgroupSupport.parent)
        let python = try #require(AllocatingChild.python)
        let limit = 64 << 20
        let cg = try parent.createChild(named: "memprobe-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", limitBytes: limit)
        defer { try? cg.remove() }
        #expect(cg.version == parent.version)
        #expect(try cg.limit() == limit)
        #expect(try cg.usage() < 1 << 20)
        #expect(try cg.oomKillCount() == 0)

        // 1. A child that touches 40 MiB inside the cgroup: usage rises by at least that much.
        let small = try AllocatingChild(python: python, mebibytes: 40)
        try cg.addProcess(small.pid)
        #expect(try cg.processes() == [small.pid])
        small.sendLine()
        #expect(small.readLine() == "ready")
        let s = try cg.snapshot()
        print("child cgroup with 40 MiB touched: usage \(s.usage) anon \(s.anon ?? -1) workingSet \(s.workingSet) headroom \(s.headroom ?? -1)")
        #expect(s.usage >= 40 << 20)
        #expect((s.anon ?? 0) >= 40 << 20)
        #expect(s.workingSet >= 40 << 20)
        #expect(s.headroom == limit - s.workingSet)
        small.sendLine()
        #expect(small.wait() == nil)

        // 2. A child that touches 200 MiB under the 64 MiB limit: the OOM killer kills it, oom_kill rises.
        let big = try AllocatingChild(python: python, mebibytes: 200)
        try cg.addProcess(big.pid)
        big.sendLine()
        #expect(big.readLine() == nil)  // died before printing "ready"
        #expect(big.wait() == SIGKILL)
        #expect(try cg.oomKillCount() == 1)
        #expect(try (cg.failCount() ?? 0) > 0)

        try cg.remove()
        #expect(!FileManager.default.fileExists(atPath: cg.directory))
        try cg.remove()  // already gone: not an error
    }

    @Test func setLimitAndReject() throws {
        let parent = try #require(TestEnvironment.cgroupSupport.parent)
        let name = "memprobe-test-limit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let cg = try parent.createChild(named: name, limitBytes: nil)
        defer { try? cg.remove() }
        #expect(try cg.limit() == nil)
        try cg.setLimit(bytes: 128 << 20)
        #expect(try cg.limit() == 128 << 20)
        #expect(try cg.effectiveLimit() == 128 << 20)
        try cg.setLimit(bytes: nil)
        #expect(try cg.limit() == nil)
        // Creating it twice: EEXIST with the path.
        #expect(throws: MemoryCgroupError.file(path: cg.directory, SystemCallError(call: "mkdir", errno: .fileExists))) {
            try parent.createChild(named: name, limitBytes: nil)
        }
        // A pid that does not exist cannot be added.
        #expect(throws: MemoryCgroupError.self) { try cg.addProcess(999_999_99) }
        try cg.remove()
        #expect(!FileManager.default.fileExists(atPath: cg.directory))
    }
}
