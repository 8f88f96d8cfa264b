#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import MemProbeTestSupport
import Testing

/// Under a 700 MiB memory cgroup, a child process writes 512 MiB through an arena, frees it, then the process
/// needs 400 MiB more (from a second arena: with one arena the freed pages would simply be reused). With
/// `retain` the freed pages still count, so the kernel OOM-kills the child; with `lazyFree` the kernel takes the
/// lazily freed pages back first, and with `dontNeed` they are gone already: both survive.
@Suite(.serialized) struct CgroupOOMTests {
    static let limit = 700 * MiB

    /// The child's whole job (also run small in the parent first, so the child only runs code paths whose
    /// runtime metadata already exists: after fork() in a threaded process, nothing may wait on another thread).
    static func arenaWork(_ strategy: ReleaseStrategy, first: Int, second: Int) -> Int32 {
        let chunk = min(first, 32 * MiB)
        do {
            let a = PageArena(strategy: strategy, configuration: .init(regionSize: 64 * MiB))
            var chunks: [UnsafeMutableRawPointer] = []
            chunks.reserveCapacity(64)
            for _ in 0..<(first / chunk) {
                let p = try a.allocate(byteCount: chunk)
                touch(p, chunk)
                chunks.append(p)
            }
            for p in chunks { a.deallocate(p, byteCount: chunk) }
            try a.release()
            let b = PageArena(strategy: .retain, configuration: .init(regionSize: 64 * MiB))
            for _ in 0..<(second / chunk) {
                let p = try b.allocate(byteCount: chunk)
                touch(p, chunk)
            }
            return 0
        } catch {
            return 3
        }
    }


    @Test(
        .enabled(if: TestEnvironment.canManageCgroups, "needs root and a writable memory cgroup"),
        .enabled(if: !TestEnvironment.isSanitized, "a sanitizer's shadow memory is charged to the cgroup"),
        arguments: [ReleaseStrategy.retain, .lazyFree, .dontNeed])
    func freedMemoryUnderACgroupLimit(_ strategy: ReleaseStrategy) throws {
        let parent = try #require(TestEnvironment.cgroupSupport.parent)
        let name = "memprobe-arena-oom-\(getpid())-\(strategy)"
        let cgroup = try parent.createChild(named: name, limitBytes: Self.limit)
        defer {
            do { try cgroup.remove(timeout: .seconds(5)) } catch { Issue.record("could not remove \(cgroup): \(error)") }
        }
        let oomBefore = try cgroup.oomKillCount() ?? 0
        #expect(Self.arenaWork(strategy, first: MiB, second: MiB) == 0, "warm-up in the parent")

        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let pid = fork()
        if pid == 0 {
            // Child: wait until the parent has moved us into the cgroup, then do only arena work.
            close(fds[1])
            var byte: UInt8 = 0
            if read(fds[0], &byte, 1) != 1 { _exit(4) }
            _exit(Self.arenaWork(strategy, first: 512 * MiB, second: 400 * MiB))
        }
        #expect(pid > 0, "fork failed: errno \(errno)")
        close(fds[0])
        do {
            try cgroup.addProcess(pid)
        } catch {
            kill(pid, SIGKILL)  // never let it run outside the limit
            close(fds[1])
            var st: Int32 = 0
            waitpid(pid, &st, 0)
            throw error
        }
        var go: UInt8 = 1
        _ = write(fds[1], &go, 1)
        close(fds[1])

        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                Issue.record("child did not finish in 60 s")
                return
            }
            usleep(10_000)
        }
        let signal = status & 0x7f
        let exitCode = (status >> 8) & 0xff
        let oomAfter = try cgroup.oomKillCount() ?? 0
        print("cgroup OOM test: \(strategy): signal \(signal), exit \(exitCode), oom_kill \(oomBefore) → \(oomAfter)")
        if strategy == .retain {
            #expect(signal == SIGKILL, "retain: the kernel OOM-kills the child")
            #expect(oomAfter > oomBefore)
        } else {
            #expect(signal == 0 && exitCode == 0, "\(strategy): the child survives (signal \(signal), exit \(exitCode))")
            #expect(oomAfter == oomBefore)
        }
    }
}
