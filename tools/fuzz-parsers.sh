#!/usr/bin/env bash
# Runs memprobe's libFuzzer targets (with ASan) for a bounded time each; exit 1 when any target crashes.
#
#   tools/fuzz-parsers.sh [--seconds N] [target ...]     (default: every target in fuzz/targets, 60 s each)
#
# Each target is a SwiftPM executable whose main.swift defines LLVMFuzzerTestOneInput under `#if FUZZING` and a
# replay mode otherwise. Its committed seed corpus is fuzz/corpus/<name>/ (read, never written); new inputs
# libFuzzer finds go to .build-fuzz/corpus/<name>/. A crash is written to .build-fuzz/crashes/<name>/ and fails
# the run; replay it without the fuzzer with `swift run <Product> <crash file>`, fix, and commit the file to
# fuzz/corpus/<name>/ so it stays a regression input.
#
# Adding a target (e.g. a reader of a published file format):
#   1. Expose a `package` function that parses arbitrary bytes and never traps.
#   2. Add Sources/Fuzz<Name>/main.swift on the model of Sources/FuzzPublishedStats/main.swift (a check that calls
#      it and verifies what it returns is self-consistent, then `runFuzzTarget`) and
#      `.executableTarget(name: "Fuzz<Name>", dependencies: [<module>, "FuzzDriver"])` to Package.swift.
#   3. Add a line `<name> Fuzz<Name>` to fuzz/targets and a few valid and broken inputs to fuzz/corpus/<name>/.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=60
if [ "${1:-}" = "--seconds" ]; then seconds="$2"; shift 2; fi
export SWIFT_BACKTRACE=enable=no   # the Swift crash handler fails under ASan and hides the real report
declare -A products
order=()
while read -r name product; do
    case "$name" in ''|'#'*) continue ;; esac
    products[$name]=$product
    order+=("$name")
done < fuzz/targets
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${order[@]}")
status=0
for name in "${wanted[@]}"; do
    product="${products[$name]:-}"
    if [ -z "$product" ]; then echo "fuzz target $name: FAILED (not in fuzz/targets)"; status=1; continue; fi
    mkdir -p .build-fuzz
    if ! swift build --scratch-path .build-fuzz --product "$product" -Xswiftc -sanitize=fuzzer,address \
            -Xswiftc -DFUZZING >".build-fuzz/build-$name.log" 2>&1; then
        cat ".build-fuzz/build-$name.log" >&2
        echo "fuzz target $name: FAILED (build)"; status=1; continue
    fi
    rm -f ".build-fuzz/build-$name.log"
    bin=.build-fuzz/debug/$product
    scratch=.build-fuzz/corpus/$name crashes=.build-fuzz/crashes/$name
    mkdir -p "$scratch" "$crashes"
    # First corpus dir is where libFuzzer writes new inputs; the committed one is only read.
    if "$bin" -max_total_time="$seconds" -artifact_prefix="$crashes/" -print_final_stats=1 "$scratch" "fuzz/corpus/$name"; then
        echo "fuzz target $name: no crash in $seconds s"
    else
        echo "fuzz target $name: FAILED: crash input in $crashes/ (replay: swift run $product <file>)"
        status=1
    fi
done
exit $status
