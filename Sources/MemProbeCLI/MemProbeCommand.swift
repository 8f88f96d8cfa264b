import ArgumentParser
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `memprobe`: where a process's memory really is.
@main
struct MemProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memprobe",
        abstract: "Shows where a process's memory really is: live bytes, in-use pages, mapped space, released pages and RSS.",
        discussion: """
        Exit codes: 0 ok; 1 failure, including output that could not be written (standard output, a file); 2 a \
        target process is gone, is a thread, or may not be read; 64 usage error; 65 a malformed input file \
        (profile, watch --marks/--replay); compare also 128+N when stopped by signal N. Each command's --help \
        lists its own.

        Examples:
          memprobe snapshot --self
          memprobe snapshot 1234 5678 --format json
          memprobe snapshot 1234 --fast --format prometheus
          memprobe profile heap.pb.gz --top 20
        """,
        version: "0.1.0",
        subcommands: [SnapshotCommand.self, CompareCommand.self, CompareWorkerCommand.self, ProfileCommand.self, WatchCommand.self]
    )

    /// ArgumentParser answers `memprobe help <unknown>` with the top-level help and exit 0; a typo must be a
    /// usage error (64) that names the known commands.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "help", arguments.count >= 2 {
            let known = configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }
            let asked = arguments[1]
            if !asked.hasPrefix("-"), !known.contains(asked) {
                printError("memprobe: no such command '\(asked)'; commands: \(known.joined(separator: ", "))")
                exit(withError: ExitStatus.usage)
            }
        }
        if arguments.first != "compare-worker" { ReleaseEnvironment.check(command: arguments.first) }
        // What goes through stdio (ArgumentParser's help, --version) is flushed at exit, where a failed write would
        // be lost: flush it here, checked, so `memprobe watch --help > /dev/full` is exit 1 too. The commands' own
        // output uses checked writes (writeStandardOutput).
        atexit {
            signal(SIGPIPE, SIG_IGN)  // a closed pipe is reported as such, not a SIGPIPE death at exit
            if fflush(stdout) != 0 || ferror(stdout) != 0 {
                let reason = String(cString: strerror(errno == 0 ? EIO : errno))
                _ = "memprobe: cannot write to standard output: \(reason)\n".withCString { fputs($0, stderr) }
                _exit(1)
            }
        }
        main(nil)
    }
}
