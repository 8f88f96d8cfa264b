#!/usr/bin/env bash
# Fuzzes the /proc text parsers (SmapsRollup, ProcStatus, Statm, MemoryPressure) with libFuzzer + ASan.
# Usage: tools/fuzz-parsers.sh [seconds]   (default 60). Crashes are written as fz-crash-* in the repo root;
# replay one with: swift run FuzzProcParsers fz-crash-<sha>   (no fuzzer needed).
# The corpus starts from live /proc files of this machine and is kept in .build-fuzz/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
export SWIFT_BACKTRACE=enable=no   # the Swift crash handler fails under ASan and hides the real report
swift build --scratch-path .build-fuzz --product FuzzProcParsers \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING 2>&1 | grep -v -e '^\[[0-9]*/[0-9]*\] ' -e 'Cannot export local symbol' || true
bin=.build-fuzz/debug/FuzzProcParsers
[ -x "$bin" ] || { echo "fuzz build failed" >&2; exit 1; }
corpus=.build-fuzz/corpus
mkdir -p "$corpus"
for f in smaps_rollup status statm; do cat "/proc/self/$f" > "$corpus/seed-$f" 2>/dev/null || true; done
head -c 20000 /proc/self/smaps > "$corpus/seed-smaps" 2>/dev/null || true
cat /proc/pressure/memory > "$corpus/seed-psi" 2>/dev/null || true
exec "$bin" -max_total_time="$seconds" -artifact_prefix=fz- -print_final_stats=1 "$corpus"
