#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import MemProbeTestSupport

/// Runs the built `memprobe` binary (next to the test bundle) and captures its output.
enum CLIProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The run hit its timeout and was SIGKILLed.
        var timedOut = false
    }

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

    /// Runs `memprobe args…`, optionally through a wrapper command (e.g. `setpriv …`). With a `timeout` (seconds),
    /// a run that has not ended by then is SIGKILLed and reported with `timedOut` (an endless loop must fail the
    /// test, not hang the suite).
    static func run(
        _ args: [String], wrapper: [String] = [], environment: [String: String]? = nil, timeout: Double? = nil,
        currentDirectory: URL? = nil
    ) throws -> Result {
        let p = Process()
        if let currentDirectory { p.currentDirectoryURL = currentDirectory }
        if wrapper.isEmpty {
            p.executableURL = executable
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: wrapper[0])
            p.arguments = Array(wrapper.dropFirst()) + [executable.path] + args
        }
        if let environment { p.environment = environment }
        // Files rather than pipes: no reader threads, and large outputs never block the child.
        let dir = FileManager.default.temporaryDirectory
        let outURL = dir.appendingPathComponent("memprobe-out-\(UUID().uuidString)")
        let errURL = dir.appendingPathComponent("memprobe-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        p.standardOutput = out
        p.standardError = err
        try p.run()
        var timedOut = false
        if let timeout {
            let deadline = Date().addingTimeInterval(timeout)
            while p.isRunning && Date() < deadline { usleep(20_000) }
            if p.isRunning {
                timedOut = true
                kill(p.processIdentifier, SIGKILL)
            }
        }
        p.waitUntilExit()
        try out.close(); try err.close()
        let outData = try Data(contentsOf: outURL), errData = try Data(contentsOf: errURL)
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), timedOut: timedOut)
    }
}
