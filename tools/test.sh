#!/usr/bin/env bash
# The whole test suite: debug build + every test, an AddressSanitizer pass, a ThreadSanitizer pass, then every
# fuzz target for a bounded time (tools/fuzz-parsers.sh), then the example service once (tools/test-examples.sh).
# Installs the C libraries first if needed.
# Exit code 0 only when every pass succeeded. The closing line is exactly
#   tests: N passed, N failed, N skipped
# (CI reads it), preceded by the name and reason of every skipped test, per pass.
# MEMPROBE_SKIP_SANITIZERS=1 leaves out passes 2-3, MEMPROBE_SKIP_FUZZ=1 pass 4, MEMPROBE_SKIP_EXAMPLES=1 pass 5;
# MEMPROBE_FUZZ_SECONDS (default 45) bounds each fuzz target.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 1
# Go's pprof reads every heap profile the tests write (MemProbeProfileTests); without Go that check is skipped.
if go_path=$(tools/install-go.sh); then export MEMPROBE_GO="$go_path"; else echo "go tool pprof checks will be skipped" >&2; fi
export SWIFT_BACKTRACE=enable=no   # the Swift crash handler misbehaves under ASan and hides real reports
status=0
log() { printf '\n==== %s ====\n' "$*"; }
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# Drops linker noise and build progress; keeps a copy of each pass's output for the closing counts.
quiet() { grep -v -e 'Cannot export local symbol' -e '^\[[0-9]*/[0-9]*\] ' | tee -a "$logs/$1"; }
passes=()
declare -A pass_rc

# --no-parallel: many tests assert deltas of this process's RSS (smaps_rollup) against the kernel; suites running
# side by side would move each other's figures. Threads inside a test still run concurrently.
log "1/5 debug: swift test"
start=$(date +%s)
passes+=(debug)
swift test --disable-xctest --no-parallel 2>&1 | quiet debug; rc=${PIPESTATUS[0]}; pass_rc[debug]=$rc
[ "$rc" -eq 0 ] || status=1
echo "debug pass: exit $rc in $(( $(date +%s) - start )) s"

if [ "${MEMPROBE_SKIP_SANITIZERS:-0}" != 1 ]; then
    log "2/5 AddressSanitizer: unsafe-pointer code (CShims, system layer, arena, map, MemStats and its formatting, governor, publisher, heap profile)"
    start=$(date +%s)
    passes+=(asan)
    LSAN_OPTIONS="suppressions=$PWD/tools/lsan.supp" ASAN_OPTIONS="detect_leaks=1" \
        swift test --disable-xctest --no-parallel --scratch-path .build-asan --sanitize=address \
        --filter 'CShimsTests|MemProbeSystemTests|MemProbeArenaTests|MemProbeMapTests|MemProbeTests|MemProbeServiceTests|MemProbeProfileTests' 2>&1 | quiet asan; rc=${PIPESTATUS[0]}; pass_rc[asan]=$rc
    [ "$rc" -eq 0 ] || status=1
    echo "asan pass: exit $rc in $(( $(date +%s) - start )) s"

    log "3/5 ThreadSanitizer: shared state (arena, maps sharing an arena, syscall mock, MemStats, governor, publisher, heap sampler)"
    start=$(date +%s)
    passes+=(tsan)
    TSAN_OPTIONS="halt_on_error=1" swift test --disable-xctest --no-parallel --scratch-path .build-tsan --sanitize=thread \
        --filter 'MemProbeArenaTests|MemProbeMapTests|MemProbeSystemTests|MemProbeTests|MemProbeServiceTests|MemProbeProfileTests' 2>&1 | quiet tsan; rc=${PIPESTATUS[0]}; pass_rc[tsan]=$rc
    [ "$rc" -eq 0 ] || status=1
    echo "tsan pass: exit $rc in $(( $(date +%s) - start )) s"
fi

fuzz_passed=0
fuzz_failed=0
if [ "${MEMPROBE_SKIP_FUZZ:-0}" != 1 ]; then
    log "4/5 fuzz: every target in fuzz/targets for ${MEMPROBE_FUZZ_SECONDS:-45} s each (libFuzzer + ASan)"
    start=$(date +%s)
    tools/fuzz-parsers.sh --seconds "${MEMPROBE_FUZZ_SECONDS:-45}" 2>&1 | tee "$logs/fuzz" | grep -e '^fuzz' -e 'ERROR' -e 'Done [0-9]* runs'
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || status=1
    fuzz_passed=$(grep -c '^fuzz target .*: no crash' "$logs/fuzz" || true)
    fuzz_failed=$(grep -c '^fuzz target .*: FAILED' "$logs/fuzz" || true)
    echo "fuzz pass: exit $rc in $(( $(date +%s) - start )) s"
fi

# The example service (its own package: Hummingbird, swift-prometheus) is built and checked once, outside the
# sanitizer passes: a real server on 127.0.0.1, bounded in time, always torn down (tools/test-examples.sh).
# It counts as one test in the closing line.
examples_passed=0
examples_failed=0
if [ "${MEMPROBE_SKIP_EXAMPLES:-0}" != 1 ]; then
    log "5/5 examples: Examples/KVCache end to end"
    start=$(date +%s)
    tools/test-examples.sh 2>&1 | grep -v -e 'Cannot export local symbol' -e '^\[[0-9]*/[0-9]*\] '; rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ]; then examples_passed=1; else examples_failed=1; status=1; fi
    echo "examples pass: exit $rc in $(( $(date +%s) - start )) s"
fi

# Closing counts over every pass. Swift Testing prints "Test run with N tests" (skipped tests included),
# "✘ Test … failed after …" per failed test and "➜ Test … skipped: …" per skipped test.
total=0; failed=0; skipped=0
skipped_names=""
failed_outside=""
for pass in "${passes[@]}"; do
    f="$logs/$pass"
    [ -f "$f" ] || continue
    t=$(grep -o 'Test run with [0-9]* tests' "$f" | awk '{s+=$4} END {print s+0}')
    x=$(grep '^✘ Test .* failed after' "$f" | grep -vc '^✘ Test run with' || true)
    k=$(grep -c '^➜ Test .* skipped' "$f" || true)
    total=$((total + t)); failed=$((failed + x)); skipped=$((skipped + k))
    # A pass that failed with no failed test (a build error, a sanitizer's leak report at exit, a crash between
    # tests) is one more failure, named, so the closing line never says "0 failed" for a failed run.
    if [ "${pass_rc[$pass]:-0}" -ne 0 ] && [ "$x" -eq 0 ]; then
        total=$((total + 1)); failed=$((failed + 1))
        failed_outside+="  [$pass] exit ${pass_rc[$pass]} with no failed test (build error, sanitizer report or crash: see its output)"$'\n'
    fi
    while IFS= read -r line; do
        [ -n "$line" ] && skipped_names+="  [$pass] ${line#➜ Test }"$'\n'
    done < <(grep '^➜ Test .* skipped' "$f" || true)
done
total=$((total + fuzz_passed + fuzz_failed + examples_passed + examples_failed))
failed=$((failed + fuzz_failed + examples_failed))
passed=$((total - failed - skipped))
if [ "$skipped" -gt 0 ]; then printf '\nskipped tests:\n%s' "$skipped_names"; fi
if [ -n "$failed_outside" ]; then printf '\npasses that failed outside a test:\n%s' "$failed_outside"; fi
if [ "$status" -eq 0 ]; then echo "memprobe tests: all passes succeeded"; else echo "memprobe tests: FAILED"; fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
