import ArgumentParser
import FoundationEssentials
import MemProbe
import MemProbeCompare
import MemProbeSystem

/// `memprobe snapshot`: one reading of every memory figure of one or more processes.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Reads every memory figure of one or more processes (or of memprobe itself).",
        discussion: """
        Full mode reads /proc/<pid>/smaps_rollup (costs ~25 ms per GiB resident and briefly holds the target's \
        mmap lock), status and statm, plus the process's memory cgroup. --fast reads only status and statm.
        A process whose smaps_rollup may not be read (another user's, or not dumpable) is shown from status and \
        statm, and the missing figures are named (in the table, and once on standard error for json and \
        prometheus; --fast names them only in its output, never on standard error).

        Exit codes: 0 ok; 1 output could not be written; 2 a process is gone, has no address space (zombie, \
        kernel thread), exited while being read, is a thread rather than a process, or nothing of it may be \
        read; 64 bad arguments.

        Examples:
          memprobe snapshot --self
          memprobe snapshot 1234 --format json
          memprobe snapshot 1234 5678 --fast --format prometheus
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, prometheus
    }

    // Strings, not Int32: parsed by ProcessIDArguments, so "-1" is named as the bad process ID it is.
    @Argument(parsing: .allUnrecognized, help: "Process IDs to read.")
    var pids: [String] = []

    @Flag(name: .customLong("self"), help: "Read memprobe's own process.")
    var readSelf = false

    @Option(help: "Output format: table, json or prometheus.")
    var format: Format = .table

    @Flag(help: "Read only status and statm (no smaps_rollup: no Pss, LazyFree, AnonHugePages).")
    var fast = false

    /// The process IDs, in the order given, each once (a repeated pid would duplicate Prometheus series).
    func processIDs() throws -> [Int32] { try ProcessIDArguments.parseList(pids) }

    func validate() throws {
        let ids = try processIDs()
        if ids.isEmpty && !readSelf { throw ValidationError("Give one or more process IDs, or --self.") }
    }

    func run() throws {
        let ids = try processIDs()
        var targets: [Int32?] = readSelf ? [nil] : []
        targets += ids.map { Optional($0) }
        var snapshots: [MemStats] = []
        var failed = false
        for pid in targets {
            if let pid, let reason = ProcessIDArguments.notAProcess(pid) {
                printError("memprobe: \(reason)")
                failed = true
                continue
            }
            do {
                snapshots.append(try MemStats.capture(pid: pid, mode: fast ? .fast : .full))
            } catch {
                printError("memprobe: \(error.description)")
                failed = true
            }
        }
        if !snapshots.isEmpty {
            let text: String
            switch format {
            case .table:
                text = snapshots.map { s in
                    ([MemStatsReport.table(s)] + (MemStatsReport.governorTable(s).map { [$0] } ?? [])).joined(separator: "\n\n")
                }.joined(separator: "\n\n") + "\n"
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let data = targets.count == 1 ? try encoder.encode(snapshots[0]) : try encoder.encode(snapshots)
                text = String(decoding: data, as: UTF8.self) + "\n"
            case .prometheus:
                text = MemStatsReport.prometheus(snapshots) + MemStatsReport.prometheusPublished(snapshots)
            }
            try writeStandardOutput(text, command: "memprobe snapshot")
            // What --fast leaves out is its documented contract (and listed in the output's `missing`), so it is not
            // repeated on stderr for every scrape. A figure denied in full mode is news: say it once per process.
            // A published file that could not be read (another user's, corrupt) is news in either mode.
            for s in snapshots where !s.missing.isEmpty && format != .table {
                if !fast {
                    printError("memprobe: process \(s.pid): not read: " + s.missing.map(\.figure).joined(separator: ", "))
                }
                for m in s.missing where m.figure == "published" { printError("memprobe: process \(s.pid): \(m.reason)") }
            }
        }
        if failed { throw ExitStatus.targetUnavailable }
    }
}
