#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import MemProbeTestSupport
import Testing

/// Process-wide settings (an environment variable, RLIMIT_AS) tested in a forked child so they never leak into
/// the other tests running in this process.
@Suite struct ForkedChildTests {
    /// Runs `body` in a forked child and returns its exit code (or 128 + signal). The child does only
    /// arena work and `_exit`s; the code it runs was exercised in the parent first, so no runtime `swift_once` or
    /// metadata lock is taken for the first time in the child.
    ///
    /// A child that does not finish by `timeout` is killed and the test fails with that reason (a fork of a
    /// threaded process can inherit a lock another thread held at that instant); it is never retried, so a hang
    /// cannot hide behind a second attempt, and it never hangs the run.
    static func inChild(timeout: Duration = .seconds(20), _ body: () -> Int32) -> Int32 {
        let pid = fork()
        if pid == 0 { _exit(body()) }
        precondition(pid > 0, "fork failed")
        var status: Int32 = 0
        let deadline = ContinuousClock.now + timeout
        while true {
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid { break }
            if rc < 0 && errno != EINTR {
                Issue.record("waitpid(\(pid)) failed: errno \(errno)")
                return 255
            }
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                Issue.record("the forked child did not finish in \(timeout) and was killed (a lock inherited at fork?)")
                return 254
            }
            usleep(2_000)
        }
        let signal = status & 0x7f
        return signal != 0 ? 128 + signal : (status >> 8) & 0xff
    }

    static func environmentCheck() -> Int32 {
        setenv("MEMPROBE_RELEASE", "decay:250ms", 1)
        guard (try? ReleaseStrategy.fromEnvironment()) == .decay(delay: .milliseconds(250)) else { return 1 }
        setenv("MEMPROBE_RELEASE", "", 1)
        guard (try? ReleaseStrategy.fromEnvironment()) == .some(nil) else { return 2 }
        unsetenv("MEMPROBE_RELEASE")
        guard (try? ReleaseStrategy.fromEnvironment()) == .some(nil) else { return 3 }
        setenv("MEMPROBE_RELEASE", "madvdontneed=1", 1)
        do {
            _ = try ReleaseStrategy.fromEnvironment()
            return 4
        } catch {
            guard case .invalidStrategy("madvdontneed=1", let valid) = error, valid.contains("dontNeed") else { return 5 }
        }
        return 0
    }

    // Under TSan the forked child inherited a runtime lock held by another test thread in most runs; the parsing
    // itself is covered by ReleaseStrategyTests in every pass.
    @Test(.enabled(if: !TestEnvironment.isSanitized, "fork of a threaded process under a sanitizer"))
    func environmentVariableSelectsOrRejects() {
        unsetenv("MEMPROBE_RELEASE_UNUSED")  // warm up libc env code in the parent
        // …and every parsing path the child takes (first use instantiates runtime metadata under a global once).
        for text in ["decay:250ms", "", "madvdontneed=1", "dontNeed"] { _ = try? ReleaseStrategy(parsing: text) }
        _ = try? ReleaseStrategy.fromEnvironment()
        #expect(Self.inChild(Self.environmentCheck) == 0)
    }

    static func rlimitCheck() -> Int32 {
        // Room for ~96 MiB more address space than is mapped now.
        guard let statm = try? ProcFile.read(pid: nil, "statm"),
              let pages = Int(statm.split(separator: " ").first ?? "") else { return 10 }
        let limit = rlim_t(pages * VirtualMemory.pageSize + 96 * MiB)
        var rl = rlimit(rlim_cur: limit, rlim_max: limit)
        guard setrlimit(Int32(RLIMIT_AS.rawValue), &rl) == 0 else { return 11 }
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 64 * MiB))
        do {
            _ = try arena.allocate(byteCount: 512 * MiB)
            return 12  // should not fit
        } catch {
            guard case .outOfMemory(512 * MiB, .outOfAddressSpace) = error else { return 13 }
        }
        let before = arena.stats
        guard before.sys == 0, before.alloc == 0 else { return 14 }
        // A 64 MiB region fits; the arena is consistent and usable after the failure.
        guard let p = try? arena.allocate(byteCount: 8 * MiB) else { return 15 }
        touch(p, 8 * MiB)
        arena.deallocate(p, byteCount: 8 * MiB)
        guard (try? arena.release()) != nil else { return 16 }
        let s = arena.stats
        guard s.alloc == 0, s.heapInuse + s.heapIdle == s.sys, s.heapReleased == s.heapIdle else { return 17 }
        return 0
    }

    @Test(.enabled(if: !TestEnvironment.isSanitized, "a sanitizer's shadow mappings need the address space RLIMIT_AS takes"))
    func rlimitASIsOutOfMemoryAndTheArenaStaysUsable() {
        // Warm up the same paths in the parent (no limit here).
        let warm = PageArena(strategy: .dontNeed, configuration: .init(regionSize: 64 * MiB))
        if let p = try? warm.allocate(byteCount: 8 * MiB) { warm.deallocate(p, byteCount: 8 * MiB) }
        _ = try? warm.release()
        _ = try? ProcFile.read(pid: nil, "statm")
        #expect(Self.inChild(Self.rlimitCheck) == 0)
    }
}
