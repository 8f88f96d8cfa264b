import MemProbe
import MemProbeCompare
import MemProbeSystem
import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The running worker's pid (0: none), for the SIGINT/SIGTERM/SIGHUP handler.
let compareChildPid = Atomic<Int32>(0)
/// Set by the SIGINT/SIGTERM/SIGHUP handler: the signal's number.
let compareInterrupted = Atomic<Int32>(0)

/// On SIGINT/SIGTERM/SIGHUP (a closed terminal): remember it and SIGKILL the running worker. The main loop then
/// sees the pipe close, reaps the child, removes its cgroup and exits 128 + the signal. (kill(2) is
/// async-signal-safe; nothing else is done here.) A SIGKILL of memprobe itself cannot be handled: the worker
/// then dies through PR_SET_PDEATHSIG and the next run removes the cgroup.
func installCompareSignalHandlers() {
    for sig in compareHandledSignals {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            compareInterrupted.store(signal, ordering: .sequentiallyConsistent)
            let pid = compareChildPid.load(ordering: .sequentiallyConsistent)
            if pid > 0 { kill(pid, SIGKILL) }
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: a blocked read returns EINTR
        sigaction(sig, &action, nil)
    }
    // A parent may have started us with these signals blocked (the mask is inherited): unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    for sig in compareHandledSignals { sigaddset(&set, sig) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// How one worker child ended.
struct CompareChildResult {
    var records: [CompareRecord]
    var outcome: CompareOutcome
    var detail: String
}

/// The signals that end a compare run cleanly.
let compareHandledSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

/// Thrown when the user interrupted the run (the child is already killed and reaped).
struct CompareInterrupted: Error {
    /// The signal that interrupted it.
    var signal: Int32
}

/// "SIGINT" for SIGINT, etc.
func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    case SIGHUP: "SIGHUP"
    default: "signal \(signal)"
    }
}

/// Spawns `/proc/self/exe compare-worker …` with its standard output on a pipe, collects its records line by line,
/// and classifies its end: exit 0 → ok; SIGKILL while its cgroup's oom_kill count rose → oom-killed; else crashed.
func runCompareChild(
    arguments: [String], cgroup: MemoryCgroup?, progress: (String) -> Void
) throws -> CompareChildResult {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw CompareSpawnError(call: "pipe", errno: errno) }
    let (readEnd, writeEnd) = (fds[0], fds[1])
    // Close-on-exec: the child gets the write end only as its stdout (dup2 clears the flag there).
    _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
    _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, writeEnd, STDOUT_FILENO)
    let oomBefore: Int? = cgroup.flatMap { try? $0.oomKillCount() }

    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/proc/self/exe", &actions, nil, argv, environ)
    close(writeEnd)
    guard rc == 0 else {
        close(readEnd)
        throw CompareSpawnError(call: "posix_spawn(/proc/self/exe)", errno: rc)
    }
    compareChildPid.store(pid, ordering: .sequentiallyConsistent)
    if compareInterrupted.load(ordering: .sequentiallyConsistent) != 0 { kill(pid, SIGKILL) }

    var records: [CompareRecord] = []
    var garbage = false
    var pending: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    let decoder = JSONDecoder()
    while true {
        let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            break
        }
        if n == 0 { break }
        pending.append(contentsOf: buffer[0..<n])
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            guard let message = try? decoder.decode(CompareWorkerMessage.self, from: Data(line)) else {
                garbage = true
                continue
            }
            if let phase = message.starting { progress(phase) }
            if let record = message.record { records.append(record) }
        }
    }
    close(readEnd)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    compareChildPid.store(0, ordering: .sequentiallyConsistent)
    let interruptedBy = compareInterrupted.load(ordering: .sequentiallyConsistent)
    if interruptedBy != 0 { throw CompareInterrupted(signal: interruptedBy) }

    let exited = status & 0x7f == 0
    let exitCode = (status >> 8) & 0xff
    let signal = status & 0x7f
    if exited && exitCode == 0 && !garbage {
        return CompareChildResult(records: records, outcome: .ok, detail: "exited 0")
    }
    if !exited && signal == SIGKILL, let cgroup {
        let oomAfter: Int? = try? cgroup.oomKillCount()
        // No oom_kill counter (old v1 kernels): a SIGKILL nobody else sent under a limit is the OOM killer's.
        if oomAfter.map({ $0 > (oomBefore ?? 0) }) ?? true {
            return CompareChildResult(records: records, outcome: .oomKilled, detail: "killed by the OOM killer")
        }
    }
    let detail = exited ? "exited with status \(exitCode)" : "killed by signal \(signal)"
    return CompareChildResult(records: records, outcome: .crashed, detail: garbage ? detail + ", wrote unreadable output" : detail)
}

struct CompareSpawnError: Error, CustomStringConvertible {
    var call: String
    var errno: Int32
    var description: String { "\(call) failed: \(String(cString: strerror(errno)))" }
}
