import Foundation
import MemProbeTestSupport

/// Runs the built `memprobe` binary (next to the test bundle) and captures its output.
enum CLIProcess {
    /// The `memprobe` executable SwiftPM built beside this test bundle.
    static var executable: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // The bundle may be `<build>/debug/memprobePackageTests.xctest` (a file) or a directory tree.
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("memprobe").path),
              dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("memprobe")
    }

    /// Runs `memprobe args…`, optionally through a wrapper command (e.g. `setpriv …`), with ``runProcess`` (a
    /// `timeout` in seconds SIGKILLs a run that has not ended by then and reports it with `timedOut`).
    static func run(
        _ args: [String], wrapper: [String] = [], environment: [String: String]? = nil, timeout: Double? = nil,
        currentDirectory: URL? = nil
    ) throws -> ProcessOutput {
        if wrapper.isEmpty {
            return try runProcess(executable.path, args, environment: environment, timeout: timeout, currentDirectory: currentDirectory)
        }
        return try runProcess(wrapper[0], Array(wrapper.dropFirst()) + [executable.path] + args, environment: environment,
                              timeout: timeout, currentDirectory: currentDirectory)
    }
}

extension CLIProcess {
    /// A `memprobe` run in the background (to signal it while it runs), its output going to files.
    final class Running {
        let process = Process()
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-out-\(UUID().uuidString)")
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("memprobe-err-\(UUID().uuidString)")
        var pid: Int32 { process.processIdentifier }

        /// What it wrote to standard output so far.
        var stdout: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

        /// Sends `signal` to it.
        func signal(_ signal: Int32) { kill(pid, signal) }

        /// Waits up to `seconds` for `condition`, checking every 20 ms while it runs; returns whether it held.
        func wait(upTo seconds: Double, for condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !condition() {
                if !process.isRunning || Date() >= deadline { return condition() }
                usleep(20_000)
            }
            return true
        }

        /// Waits for it to end; after `timeout` seconds it is SIGKILLed and reported with `timedOut`. A run killed
        /// by a signal reports 128 + the signal as its status (as a shell would).
        func finish(timeout: Double) -> ProcessOutput {
            var timedOut = false
            if !wait(upTo: timeout, for: { !process.isRunning }) {
                timedOut = true
                kill(pid, SIGKILL)
            }
            process.waitUntilExit()
            let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
            return ProcessOutput(status: status, stdout: stdout, stderr: stderr, timedOut: timedOut)
        }

        deinit {
            if process.isRunning {
                kill(pid, SIGKILL)
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
    }

    /// Starts `memprobe args…` (or another `program` built beside it, e.g. `memprobe-demo`) in the background. With
    /// `closedStandardOutput`, its standard output is a pipe whose read end is already closed (every write fails with
    /// EPIPE, or kills it with SIGPIPE unless it ignores that).
    static func start(
        _ args: [String], program: String = "memprobe", environment: [String: String]? = nil, currentDirectory: URL? = nil,
        closedStandardOutput: Bool = false
    ) throws -> Running {
        let r = Running()
        r.process.executableURL = executable.deletingLastPathComponent().appendingPathComponent(program)
        r.process.arguments = args
        if let environment { r.process.environment = environment }
        if let currentDirectory { r.process.currentDirectoryURL = currentDirectory }
        _ = FileManager.default.createFile(atPath: r.outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: r.errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: r.errURL)
        r.process.standardError = err
        var pipe: Pipe?
        if closedStandardOutput {
            let p = Pipe()
            try p.fileHandleForReading.close()
            r.process.standardOutput = p
            pipe = p
        } else {
            r.process.standardOutput = try FileHandle(forWritingTo: r.outURL)
        }
        try r.process.run()
        // This process's copies: the child holds its own.
        try pipe?.fileHandleForWriting.close()
        try err.close()
        try (r.process.standardOutput as? FileHandle)?.close()
        return r
    }
}
