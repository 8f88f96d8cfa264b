// libFuzzer target for the /proc text parsers (smaps_rollup, smaps, status, statm, PSI).
// Build and run with tools/fuzz-parsers.sh. A plain `swift build` links the replay mode instead:
// `FuzzProcParsers file…` runs each file through the same checks (for CI and crash reproduction).
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CFuzz
import MemProbeSystem

/// One input: every parser must return without trapping, and what it returns must be self-consistent.
let fuzzOne: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
    let bytes = data.map { UnsafeBufferPointer(start: $0, count: size) } ?? UnsafeBufferPointer(start: nil, count: 0)
    let text = String(decoding: bytes, as: UTF8.self)

    for r in [SmapsRollup.parse(text), SmapsRollup.parseSmaps(text)] {
        for f in r.fields {
            // Sizes come from "N kB": never negative, always whole KiB.
            precondition(f.bytes >= 0 && f.bytes % 1024 == 0, "bad field \(f)")
            precondition(!f.name.isEmpty, "empty field name")
        }
        _ = (r.rss, r.pss, r.lazyFree, r.anonymous, r.swapPss)
    }
    let status = ProcStatus.parse(text)
    for f in status.fields { precondition(!f.name.isEmpty) }
    _ = (status.vmRSS, status.vmSize, status.threads, status.stateCode, status.isZombie, status.name)
    let page = VirtualMemory.pageSize
    if let s = Statm.parse(text, pageSize: page) {
        precondition(s.size >= 0 && s.resident >= 0 && s.shared >= 0 && s.text >= 0 && s.data >= 0)
        precondition(s.resident % page == 0)
    }
    if let p = MemoryPressure.parse(text) { _ = (p.some.avg10, p.full?.totalMicroseconds) }
    return 0
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
#else
// Replay: run each file given as an argument through the checks.
var replayed = 0
for path in CommandLine.arguments.dropFirst() {
    guard let f = fopen(path, "rb") else {
        fputs("FuzzProcParsers: cannot open \(path)\n", stderr)
        exit(66)
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    fclose(f)
    _ = bytes.withUnsafeBufferPointer { fuzzOne($0.baseAddress, $0.count) }
    replayed += 1
}
print("FuzzProcParsers: replayed \(replayed) input(s) without a failure")
#endif
