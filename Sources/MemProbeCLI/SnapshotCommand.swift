import ArgumentParser

/// `memprobe snapshot`: one reading of every memory figure of one or more processes.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Reads every memory figure of one or more processes (or of memprobe itself)."
    )

    @Argument(help: "Process IDs to read.")
    var pids: [Int32] = []

    @Flag(name: .customLong("self"), help: "Read memprobe's own process.")
    var readSelf = false

    func run() throws {
        throw ExitStatus.failure
    }
}
