// libFuzzer target for the /proc text parsers (smaps_rollup, smaps, status, statm, PSI).
// Build and run with tools/fuzz-parsers.sh. A plain `swift build` links the replay mode instead (FuzzDriver):
// `FuzzProcParsers file…` runs each file through the same checks (for CI and crash reproduction).
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import FuzzDriver
import MemProbeSystem

/// One input: every parser must return without trapping, and what it returns must be self-consistent.
let fuzzOne: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
    let bytes = fuzzBytes(data, size)
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

runFuzzTarget("FuzzProcParsers", fuzzOne)
