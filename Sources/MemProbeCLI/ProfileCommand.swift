import ArgumentParser
import MemProbeProfile
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `memprobe profile`: the top allocation sites of a heap profile, or a profile fetched from a running process.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Shows the top allocation sites of a pprof heap profile, or fetches one from a process (-o).",
        usage: """
        memprobe profile <file> [--sample-index <type>] [--top <n>] [--format <format>]
        memprobe profile <pid> -o <file> [--timeout <seconds>] [--sample-index <type>] [--top <n>] [--format <format>]
        """,
        discussion: """
        Reads a gzip'ed (or plain) pprof profile — one that memprobe's HeapProfile wrote, or any other — and \
        prints its top functions by flat value, as `go tool pprof -top` does. The default sample type is the \
        profile's own default (inuse_space for memprobe's heap profiles).

        With a process ID and -o FILE, asks that process (which must link memprobe and run its governor) to write \
        its current heap profile to FILE, waits up to --timeout seconds, then prints its top sites. FILE is checked \
        before the process is asked: its directory must exist and be writable, and FILE must not be a directory or \
        a device; an existing FILE is replaced (the process writes a temporary file and renames it), never appended \
        to. After a timeout the request may still be answered later.

        Exit codes: 0 ok; 1 the file cannot be read or written (a bad -o path, or the process answered that writing \
        it failed), or standard output cannot be written; 2 the process is gone, is a thread, does not publish, \
        gives no profile (profiling off), did not answer, or answered without writing FILE; 64 bad arguments; 65 the \
        file is not a valid profile (corrupt or truncated).

        Examples:
          memprobe profile heap.pb.gz
          memprobe profile heap.pb.gz --sample-index alloc_space --top 20
          memprobe profile heap.pb.gz --format json
          memprobe profile 1234 -o heap.pb.gz
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    /// EX_DATAERR: the input is not a valid profile.
    static let dataError = ExitCode(65)

    /// How a process is asked for its profile: the request words of its published-stats file.
    static let requester = PublishedHeapProfileRequester()

    // Strings: parsed here, so "-1" with -o is named as the bad process ID it is (ArgumentParser would call it an
    // unknown option); exactly one is allowed.
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("A profile file, or with -o the ID of a process to fetch one from.", valueName: "file-or-pid"))
    var targets: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Fetch the profile of process <pid> into this file.", valueName: "file"))
    var output: String?

    @Option(name: .customLong("sample-index"), help: ArgumentHelp("Sample type: alloc_objects, alloc_space, inuse_objects, inuse_space.", valueName: "type"))
    var sampleIndex: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Number of sites to show (1 to 1000000).", valueName: "n"))
    var top: String = "10"

    @Option(help: "Output format: table or json.")
    var format: Format = .table

    @Option(parsing: .unconditional, help: ArgumentHelp("How long to wait for the process to write its profile (with -o): seconds, or e.g. 500ms, 2m (1ms to 1h).", valueName: "seconds"))
    var timeout: String = "10"

    /// The checked command line.
    struct Settings {
        /// The profile file, or (with -o) the process's ID as given.
        var target: String
        /// With -o: the process.
        var pid: Int32?
        var top: Int
        var timeout: Double
    }

    func settings() throws -> Settings {
        guard let target = targets.first else {
            throw ValidationError(output == nil ? "Give a profile file, or a process ID with -o FILE." : "Give the ID of the process to fetch a profile from.")
        }
        if let option = targets.first(where: { $0.hasPrefix("--") }) { throw ValidationError("Unknown option '\(option)'.") }
        guard targets.count == 1 else {
            throw ValidationError("Give one profile file or one process ID, not \(targets.count) ('\(targets.joined(separator: "', '"))').")
        }
        guard let n = Int(top), n >= 1, n <= 1_000_000 else {
            throw ValidationError("--top must be a whole number from 1 to 1000000, got '\(top)'.")
        }
        guard let seconds = TimeArgument.seconds(timeout), seconds >= 0.001, seconds <= 3600 else {
            throw ValidationError("--timeout must be a time from 1ms to 1h (e.g. 10, 2.5, 500ms), got '\(timeout)'.")
        }
        var pid: Int32?
        if output != nil {
            do { pid = try ProcessIDArguments.parse(target) } catch {
                throw ValidationError("With -o, the target must be a process ID: \(error.message)")
            }
        } else if target.hasPrefix("-") {
            throw ValidationError("Unknown option '\(target)'.")
        }
        return Settings(target: target, pid: pid, top: n, timeout: seconds)
    }

    func validate() throws { _ = try settings() }

    func run() throws {
        let s = try settings()
        var path = s.target
        if let output, let pid = s.pid {
            try fetch(pid: pid, into: output, timeout: s.timeout)
            path = output
        }
        let bytes: [UInt8]
        do {
            bytes = try ProfileFile.read(path)
        } catch {
            printError("memprobe: \(error.description)")
            throw ExitStatus.failure
        }
        let report: ProfileTopReport
        do {
            report = try ProfileTopReport(try ProfileReader.parse(bytes), sampleType: sampleIndex, top: s.top)
        } catch let e as ProfileDecodeError {
            printError("memprobe: \(path): \(e.description)")
            throw Self.dataError
        } catch let e as ProfileReportError {
            printError("memprobe: \(path): \(e.description)")
            throw ExitStatus.usage
        }
        switch format {
        case .table: try writeStandardOutput(report.table(), command: "memprobe profile")
        case .json: try writeStandardOutput(report.json(), command: "memprobe profile")
        }
    }

    /// Has process `pid` write its heap profile to `output`: the path is checked first (nothing is asked of the
    /// process for a path that cannot work), then the process, then the request is sent and the file checked to
    /// be new. Each failure is one line on standard error and its exit status.
    private func fetch(pid: Int32, into output: String, timeout: Double) throws {
        let target: CheckedOutputTarget
        do { target = try CheckedOutputTarget.check(output) } catch {
            printError("memprobe: \(error)")
            throw ExitStatus.failure
        }
        if let reason = ProcessIDArguments.notAProcess(pid) {
            printError("memprobe: \(reason)")
            throw ExitStatus.targetUnavailable
        }
        // A process that does not exist is reported as such, whatever channel asks it.
        if kill(pid, 0) != 0 && errno == ESRCH {
            printError("memprobe: \(HeapProfileRequestError.noSuchProcess(pid).description)")
            throw ExitStatus.targetUnavailable
        }
        do {
            // The resolved destination: through a symbolic link, the file it names is replaced and the link stays.
            try Self.requester.fetch(pid: pid, path: target.destination, timeout: .milliseconds(Int64((timeout * 1000).rounded(.up))))
        } catch {
            printError("memprobe: \(error.description)")
            switch error {
            case .writeFailed: throw ExitStatus.failure
            case .request: throw ExitStatus.targetUnavailable
            }
        }
        // "Done" must mean a new file: never show a profile that was there before as the one just asked for.
        let after = FileIdentity.of(target.destination)
        if after == nil || after == target.existing {
            printError("memprobe: process \(pid) answered but did not write \(output) (\(after == nil ? "it does not exist" : "it is unchanged"))")
            throw ExitStatus.targetUnavailable
        }
    }
}
