#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The helper processes the benchmarks measure (`_serve` for `service`, `_hold` for `snapshot`): this binary
/// re-executed in a hidden mode. The child sets itself up, says so with one byte on its stdout (``signalReady()``)
/// and runs until the benchmark ends it (``stop(_:)``).
enum BenchChild {
    /// Re-executes this binary as `memprobe-bench <arguments…>` with its stdout on a pipe and waits for its ready
    /// byte; nil when it could not be started or ended before it was ready.
    static func spawn(_ arguments: [String]) -> Int32? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pid: pid_t = 0
        let exe = "/proc/self/exe"
        var argv: [UnsafeMutablePointer<CChar>?] = ([exe] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, exe, &actions, nil, &argv, environ) == 0 else { return nil }
        close(fds[1])
        var byte: UInt8 = 0
        let n = read(fds[0], &byte, 1)
        close(fds[0])
        return n == 1 ? pid : nil
    }

    /// In the child: tells the benchmark that it is ready (one byte on stdout).
    static func signalReady() {
        var ready: UInt8 = 1
        _ = write(1, &ready, 1)
    }

    /// Kills the child and reaps it.
    static func stop(_ pid: Int32) {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}
