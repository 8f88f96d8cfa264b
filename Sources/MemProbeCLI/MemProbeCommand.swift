import ArgumentParser

/// `memprobe`: where a process's memory really is.
@main
struct MemProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memprobe",
        abstract: "Shows where a process's memory really is: live bytes, in-use pages, mapped space, released pages and RSS.",
        discussion: """
        Exit codes: 0 ok, 1 failure, 2 target process gone or not permitted, 64 usage error.

        Examples:
          memprobe snapshot --self
          memprobe snapshot 1234 5678 --format json
          memprobe snapshot 1234 --fast --format prometheus
          memprobe profile heap.pb.gz --top 20
        """,
        version: "0.1.0",
        subcommands: [SnapshotCommand.self, CompareCommand.self, CompareWorkerCommand.self, ProfileCommand.self, WatchCommand.self]
    )
}
