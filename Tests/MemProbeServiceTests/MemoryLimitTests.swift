#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbe
import Testing
import MemProbeTestSupport

@Suite struct MemoryLimitParsingTests {
    @Test(arguments: [
        ("800MiB", MemoryLimitSetting.bytes(800 << 20)), ("2GiB", .bytes(2 << 30)), ("1.5G", .bytes(3 << 29)),
        ("512m", .bytes(512 << 20)), ("1048576", .bytes(1 << 20)), (" 64MiB ", .bytes(64 << 20)),
        ("off", .off), ("OFF", .off), ("none", .off), ("90%", .cgroupFraction(0.9)), ("100%", .cgroupFraction(1)),
        ("12.5%", .cgroupFraction(0.125)),
    ])
    func acceptedForms(_ text: String, _ expected: MemoryLimitSetting) throws {
        #expect(try MemoryLimitSetting(parsing: text) == expected)
    }

    @Test(arguments: [
        "", "   ", "-1GiB", "abc", "12XB", "1.2.3G", "0", "1000", "0%", "101%", "%", "-5%", "x%", "G", "1e9",
        "99999999999999999999999TiB", "nan", "inf", "1 0M", "0x100M", "1,5G", "½G",
    ])
    func rejectedForms(_ text: String) {
        #expect {
            try MemoryLimitSetting(parsing: text)
        } throws: { error in
            let d = (error as? MemoryLimitError)?.description ?? ""
            // A clear one-line message that quotes the value and names the accepted forms.
            return d.contains("\"\(text)\"") && d.contains("800MiB") && d.contains("90%") && d.contains("off") && !d.contains("\n")
        }
    }
}

/// Cgroup limit detection from captured cgroup files (v1 and v2), and the resolution order.
@Suite struct MemoryLimitResolutionTests {
    static func capturedCgroup(_ files: [String: String]) throws -> (MemoryCgroup, String) {
        var template = Array("/tmp/memprobe-cgroup-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        for (name, text) in files {
            let fd = open("\(dir)/\(name)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            #expect(fd >= 0)
            _ = text.withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        return (try MemoryCgroup(directory: dir), dir)
    }

    static func remove(_ dir: String) {
        if let d = opendir(dir) {
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink("\(dir)/\(name)") }
            }
            closedir(d)
        }
        rmdir(dir)
    }

    @Test func v1LimitFromCapturedFiles() throws {
        let (cg, dir) = try Self.capturedCgroup([
            "memory.usage_in_bytes": "104857600\n", "memory.limit_in_bytes": "536870912\n",
            "memory.stat": "cache 0\nrss 104857600\ninactive_file 0\nhierarchical_memory_limit 536870912\n",
        ])
        defer { Self.remove(dir) }
        #expect(cg.version == .v1)
        let r = try ResolvedMemoryLimit.resolve(configured: nil, environment: nil, cgroup: cg)
        #expect(r.source == .cgroup)
        #expect(r.cgroupLimit == 512 << 20)
        #expect(r.bytes == Int(Double(512 << 20) * MemoryLimitSetting.defaultCgroupFraction))
    }

    @Test func v2LimitFromCapturedFiles() throws {
        let (cg, dir) = try Self.capturedCgroup([
            "memory.current": "1048576\n", "memory.max": "1073741824\n", "memory.stat": "anon 1048576\nfile 0\ninactive_file 0\n",
        ])
        defer { Self.remove(dir) }
        #expect(cg.version == .v2)
        let r = try ResolvedMemoryLimit.resolve(configured: nil, environment: .cgroupFraction(0.5), cgroup: cg)
        #expect(r.source == .environment)
        #expect(r.bytes == 512 << 20)
        #expect(r.cgroup == cg)
    }

    @Test func unlimitedCgroupMeansNoLimit() throws {
        let (v2, dir) = try Self.capturedCgroup(["memory.current": "1048576\n", "memory.max": "max\n", "memory.stat": "anon 0\n"])
        defer { Self.remove(dir) }
        let r = try ResolvedMemoryLimit.resolve(configured: nil, environment: nil, cgroup: v2)
        #expect(r.bytes == nil && r.source == .none && r.cgroup == nil)
        // A share of a limit that does not exist is an error, not a silent "no limit".
        #expect(throws: MemoryLimitError.self) {
            try ResolvedMemoryLimit.resolve(configured: .cgroupFraction(0.9), environment: nil, cgroup: v2)
        }
        #expect(try ResolvedMemoryLimit.resolve(configured: nil, environment: nil, cgroup: nil).source == .none)
    }

    @Test func configurationWinsOverEnvironmentAndCgroup() throws {
        let (cg, dir) = try Self.capturedCgroup(["memory.current": "0\n", "memory.max": "1073741824\n", "memory.stat": "anon 0\n"])
        defer { Self.remove(dir) }
        let r = try ResolvedMemoryLimit.resolve(configured: .bytes(300 << 20), environment: .bytes(200 << 20), cgroup: cg)
        #expect(r.bytes == 300 << 20 && r.source == .configuration)
        let off = try ResolvedMemoryLimit.resolve(configured: nil, environment: .off, cgroup: cg)
        #expect(off.bytes == nil && off.source == .environment)
    }

    /// The real memory cgroup of this process: the resolved hard limit is what its own files say.
    @Test(.enabled(if: TestEnvironment.hasMemoryCgroup, "this process has no memory cgroup the kernel exposes"))
    func realCgroupLimitMatchesItsFiles() throws {
        let cg = try MemoryCgroup.current()
        let r = try ResolvedMemoryLimit.resolve(configured: nil, environment: nil, cgroup: cg)
        #expect(r.cgroupLimit == (try cg.effectiveLimit()))
    }
}

/// `MEMPROBE_MEMORY_LIMIT` read from the environment (serialized: the environment is process-wide).
@Suite(.serialized) struct MemoryLimitEnvironmentTests {
    @Test func environmentVariable() throws {
        defer { unsetenv(MemoryLimitSetting.environmentVariable) }
        unsetenv(MemoryLimitSetting.environmentVariable)
        #expect(try MemoryLimitSetting.fromEnvironment() == nil)
        setenv(MemoryLimitSetting.environmentVariable, "2GiB", 1)
        #expect(try MemoryLimitSetting.fromEnvironment() == .bytes(2 << 30))
        setenv(MemoryLimitSetting.environmentVariable, "lots", 1)
        #expect {
            try MemoryLimitSetting.fromEnvironment()
        } throws: { error in
            (error as? MemoryLimitError)?.description.hasPrefix("MEMPROBE_MEMORY_LIMIT: invalid memory limit \"lots\"") == true
        }
        // The governor refuses to start with it: the error surfaces at start-up, not later.
        #expect(throws: MemoryLimitError.self) { try MemoryGovernor() }
    }
}
