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
