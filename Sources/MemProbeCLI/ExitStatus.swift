import ArgumentParser
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// memprobe's exit codes (also listed in `memprobe --help`).
enum ExitStatus {
    /// Something failed that is not the target's fault.
    static let failure = ExitCode(1)
    /// The target process is gone, has no address space, or may not be read.
    static let targetUnavailable = ExitCode(2)
    /// Bad arguments (EX_USAGE), as ArgumentParser's validation errors.
    static let usage = ExitCode(64)
}

/// Writes a line to standard error.
func printError(_ message: String) {
    var line = message
    if !line.hasSuffix("\n") { line += "\n" }
    _ = line.withCString { fputs($0, stderr) }
}

/// Whether standard output is a terminal (progress and colour only then).
var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
