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
        statm, and the missing figures are named.

        Exit codes: 0 ok; 2 a process is gone, has no address space (zombie, kernel thread), exited while being \
        read, or nothing of it may be read; 64 bad arguments.

        Examples:
          memprobe snapshot --self
          memprobe snapshot 1234 --format json
          memprobe snapshot 1234 5678 --fast --format prometheus
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, prometheus
    }

    @Argument(help: "Process IDs to read.")
    var pids: [Int32] = []

    @Flag(name: .customLong("self"), help: "Read memprobe's own process.")
    var readSelf = false

    @Option(help: "Output format: table, json or prometheus.")
    var format: Format = .table

    @Flag(help: "Read only status and statm (no smaps_rollup: no Pss, LazyFree, AnonHugePages).")
    var fast = false

    func validate() throws {
        if pids.isEmpty && !readSelf { throw ValidationError("Give one or more process IDs, or --self.") }
        if let bad = pids.first(where: { $0 <= 0 }) { throw ValidationError("'\(bad)' is not a process ID (must be > 0).") }
    }

    func run() throws {
        var targets: [Int32?] = readSelf ? [nil] : []
        targets += pids.map { Optional($0) }
        var snapshots: [MemStats] = []
        var failed = false
        for pid in targets {
            do {
                snapshots.append(try MemStats.capture(pid: pid, mode: fast ? .fast : .full))
            } catch {
                printError("memprobe: \(error.description)")
                failed = true
            }
        }
        if !snapshots.isEmpty {
            switch format {
            case .table:
                print(snapshots.map { s in
                    [MemStatsReport.table(s)] + (MemStatsReport.governorTable(s).map { [$0] } ?? [])
                }.map { $0.joined(separator: "\n\n") }.joined(separator: "\n\n"))
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let data = snapshots.count == 1 && pids.count + (readSelf ? 1 : 0) == 1
                    ? try encoder.encode(snapshots[0]) : try encoder.encode(snapshots)
                print(String(decoding: data, as: UTF8.self))
            case .prometheus:
                print(MemStatsReport.prometheus(snapshots) + MemStatsReport.prometheusPublished(snapshots), terminator: "")
            }
            for s in snapshots where !s.missing.isEmpty && format != .table {
                printError("memprobe: process \(s.pid): not read: " + s.missing.map(\.figure).joined(separator: ", "))
                for m in s.missing where m.figure == "published" { printError("memprobe: process \(s.pid): \(m.reason)") }
            }
        }
        if failed { throw ExitStatus.targetUnavailable }
    }
}
