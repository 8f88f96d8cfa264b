#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Testing

/// What a finished command left: its exit status and everything it wrote.
public struct ProcessOutput: Sendable {
    /// Exit status, or the signal that ended it.
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The run hit its timeout and was SIGKILLed.
    public var timedOut = false

    public init(status: Int32, stdout: String, stderr: String, timedOut: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
    }

    /// Standard output as one JSON object; records an issue (and throws) when it is not one.
    public func jsonObject(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], sourceLocation: sourceLocation)
    }
}

/// Runs `executable` with `arguments` to its end and captures its output. `environment` replaces this process's
/// when given. With a `timeout` (seconds), a run that has not ended by then is SIGKILLed and reported with
/// `timedOut` (an endless loop must fail the test, not hang the suite).
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Double? = nil,
    currentDirectory: URL? = nil
) throws -> ProcessOutput {
    let p = Process()
    if let currentDirectory { p.currentDirectoryURL = currentDirectory }
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    // Files rather than pipes: no reader threads, and large outputs never block the child.
    let dir = FileManager.default.temporaryDirectory
    let outURL = dir.appendingPathComponent("memprobe-out-\(UUID().uuidString)")
    let errURL = dir.appendingPathComponent("memprobe-err-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
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
    // Read with libc (`contentsOfFile`), not `Data(contentsOf:)`: FoundationEssentials leaks its 4 KiB buffer for an
    // empty file, which LeakSanitizer reports in the ASan pass.
    guard let outBytes = contentsOfFile(outURL.path), let errBytes = contentsOfFile(errURL.path) else {
        throw TestSupportError("cannot read the output of \(executable)")
    }
    return ProcessOutput(status: p.terminationStatus, stdout: String(decoding: outBytes, as: UTF8.self),
                         stderr: String(decoding: errBytes, as: UTF8.self), timedOut: timedOut)
}
