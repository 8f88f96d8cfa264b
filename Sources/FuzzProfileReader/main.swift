// libFuzzer target for the pprof reader behind `memprobe profile FILE` (gzip'ed or plain profile.proto from any
// tool). Build and run with tools/fuzz-parsers.sh; a plain build replays the files given as arguments (FuzzDriver).
import FuzzDriver
import MemProbeProfile

/// One input: the reader rejects it or returns a profile that re-encodes to itself and renders a top report for
/// every sample type (`ProfileReader.fuzzOne`'s checks); it never traps.
let fuzzOne: FuzzCheck = { data, size in
    _ = ProfileReader.fuzzOne(fuzzBytes(data, size))
    return 0
}

runFuzzTarget("FuzzProfileReader", fuzzOne)
