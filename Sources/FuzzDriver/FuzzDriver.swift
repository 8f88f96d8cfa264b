// The one driver every fuzz target's `main` calls (Sources/Fuzz*/main.swift): under `-DFUZZING` (a libFuzzer +
// ASan build by tools/fuzz-parsers.sh) it hands the target's check to libFuzzer; in a plain build it replays the
// files named on the command line through the same check (CI's corpus replay and crash reproduction).
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CFuzz

/// One fuzz input: returns 0 (libFuzzer's convention); a failed check traps.
public typealias FuzzCheck = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// The input as a buffer (libFuzzer passes a null pointer for the empty input).
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    data.map { UnsafeBufferPointer(start: $0, count: size) } ?? UnsafeBufferPointer(start: nil, count: 0)
}

#if FUZZING
/// The check libFuzzer's own entry point calls (set once by ``runFuzzTarget(_:_:)`` before the driver starts).
nonisolated(unsafe) private var currentCheck: FuzzCheck?

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { currentCheck?(data, size) ?? 0 }
#endif

/// Runs `check` as target `name`: libFuzzer in a fuzzing build, else a replay of every file argument. Exits.
public func runFuzzTarget(_ name: String, _ check: FuzzCheck) -> Never {
    #if FUZZING
    currentCheck = check
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, check))
    #else
    var replayed = 0
    for path in CommandLine.arguments.dropFirst() {
        guard let f = fopen(path, "rb") else {
            fputs("\(name): cannot open \(path)\n", stderr)
            exit(66)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        let failed = ferror(f) != 0
        fclose(f)
        if failed {
            fputs("\(name): read error on \(path)\n", stderr)
            exit(74)
        }
        _ = bytes.withUnsafeBufferPointer { check($0.baseAddress, $0.count) }
        replayed += 1
    }
    print("\(name): replayed \(replayed) input(s) without a failure")
    exit(0)
    #endif
}
