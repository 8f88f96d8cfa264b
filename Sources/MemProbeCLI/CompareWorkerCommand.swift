import ArgumentParser
import MemProbe
import MemProbeCompare
import MemProbeSystem
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `memprobe compare-worker` (hidden): one contender running one scenario, in a child of `memprobe compare`.
///
/// Writes one JSON ``CompareWorkerMessage`` per line on standard output as soon as each phase starts and is
/// measured, so the parent keeps what was measured before an OOM kill or a crash.
struct CompareWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-worker",
        abstract: "Runs one contender of `memprobe compare` (internal).",
        shouldDisplay: false
    )

    @Option var contender: String
    @Option var scenario: String
    @Option var items: Int
    @Option var valueSize: Int
    @Option var keep: Int = 100
    @Option(help: "Bytes of fresh memory the pressure phase writes.") var pressure: Int?
    @Option(help: "Memory cgroup directory to join before allocating.") var cgroup: String?
    @Option(help: "The parent's pid: the worker dies with it (PR_SET_PDEATHSIG).") var parent: Int32?

    func run() throws {
        // If the parent dies, the next write to the closed pipe raises SIGPIPE (default action: terminate),
        // so an orphaned worker ends at its next phase boundary.
        signal(SIGPIPE, SIG_DFL)
        // A worker must never outlive `memprobe compare` (a SIGKILLed parent runs no handler): the kernel kills it.
        if let parent {
            do {
                try ParentDeath.killThisProcessWhenParentDies(expectedParent: parent)
            } catch {
                printError("compare-worker: \(error)")
                throw ExitStatus.failure
            }
        }
        guard let c = CompareContender(rawValue: contender), let s = CompareScenario(rawValue: scenario) else {
            printError("compare-worker: unknown contender or scenario")
            throw ExitStatus.usage
        }
        var group: MemoryCgroup?
        if let cgroup {
            do {
                let g = try MemoryCgroup(directory: cgroup)
                try g.addProcess(getpid())
                group = g
            } catch {
                printError("compare-worker: cannot join \(cgroup): \(error)")
                throw ExitStatus.failure
            }
        }
        let workload = CompareWorkload(
            contender: c, scenario: s, items: items, requestedValueSize: valueSize, keep: keep, pressureBytes: pressure,
            cgroup: group)
        let encoder = JSONEncoder()
        // Test hook: MEMPROBE_COMPARE_CRASH_AFTER=<phase>@<contender> aborts right after that phase's record,
        // so the tests can check that a crashed child is reported and the others still run.
        let crashAfter = getenv("MEMPROBE_COMPARE_CRASH_AFTER").map { String(cString: $0) }
        do {
            try workload.run { message in
                defer {
                    if let crashAfter, let r = message.record, crashAfter == "\(r.phase)@\(r.contender)" { abort() }
                }
                guard var data = try? encoder.encode(message) else { return }
                data.append(UInt8(ascii: "\n"))
                data.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(STDOUT_FILENO, raw.baseAddress! + offset, raw.count - offset)
                        if n < 0 { if errno == EINTR { continue }; return }
                        offset += n
                    }
                }
            }
        } catch {
            printError("compare-worker: \(error)")
            throw ExitStatus.failure
        }
    }
}
