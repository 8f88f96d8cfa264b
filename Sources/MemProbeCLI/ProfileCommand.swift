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
        discussion: """
        Reads a gzip'ed (or plain) pprof profile — one that memprobe's HeapProfile wrote, or any other — and \
        prints its top functions by flat value, as `go tool pprof -top` does. The default sample type is the \
        profile's own default (inuse_space for memprobe's heap profiles).

        With a process ID and -o FILE, asks that process (which must link memprobe and run its governor) to write \
        its current heap profile to FILE, waits up to --timeout seconds, then prints its top sites.

        Exit codes: 0 ok; 1 the file cannot be read or written; 2 the process is gone, does not publish, or did not \
        answer; 64 bad arguments; 65 the file is not a valid profile (corrupt or truncated).

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
    static let requester: any HeapProfileRequesting = PublishedHeapProfileRequester()

    @Argument(help: "A profile file, or with -o the ID of a process to fetch one from.")
    var target: String

    @Option(name: .shortAndLong, help: "Fetch the profile of process <target> into this file.")
    var output: String?

    @Option(name: .customLong("sample-index"), help: "Sample type: alloc_objects, alloc_space, inuse_objects, inuse_space.")
    var sampleIndex: String?

    @Option(help: "Number of sites to show.")
    var top: Int = 10

    @Option(help: "Output format: table or json.")
    var format: Format = .table

    @Option(help: "Seconds to wait for the process to write its profile (with -o).")
    var timeout: Double = 10

    func validate() throws {
        guard top > 0, top <= 1_000_000 else { throw ValidationError("--top must be between 1 and 1000000.") }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds.") }
        if output != nil {
            guard let pid = Int32(target), pid > 0 else {
                throw ValidationError("With -o, '\(target)' must be a process ID (> 0).")
            }
        }
    }

    func run() throws {
        var path = target
        if let output, let pid = Int32(target) {
            // A process that does not exist is reported as such, whatever channel asks it.
            if kill(pid, 0) != 0 && errno == ESRCH {
                printError("memprobe: \(HeapProfileRequestError.noSuchProcess(pid).description)")
                throw ExitStatus.targetUnavailable
            }
            do {
                try Self.requester.requestHeapProfile(pid: pid, path: output, timeout: .milliseconds(Int64(timeout * 1000)))
            } catch {
                printError("memprobe: \(error.description)")
                throw ExitStatus.targetUnavailable
            }
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
            report = try ProfileTopReport(try ProfileReader.parse(bytes), sampleType: sampleIndex, top: top)
        } catch let e as ProfileDecodeError {
            printError("memprobe: \(path): \(e.description)")
            throw Self.dataError
        } catch let e as ProfileReportError {
            printError("memprobe: \(path): \(e.description)")
            throw ExitStatus.usage
        }
        switch format {
        case .table: print(report.table(), terminator: "")
        case .json: print(report.json(), terminator: "")
        }
    }
}
