#!/usr/bin/env bash
# The whole test suite: debug build + every test, then an AddressSanitizer pass and a ThreadSanitizer pass.
# Installs the C libraries first if needed. Exit code 0 only when every pass succeeded.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 1
# Go's pprof reads every heap profile the tests write (MemProbeProfileTests); without Go that check is skipped.
if go_path=$(tools/install-go.sh); then export MEMPROBE_GO="$go_path"; else echo "go tool pprof checks will be skipped" >&2; fi
export SWIFT_BACKTRACE=enable=no   # the Swift crash handler misbehaves under ASan and hides real reports
status=0
log() { printf '\n==== %s ====\n' "$*"; }
summary_log=$(mktemp)
trap 'rm -f "$summary_log"' EXIT
# Drops linker noise and build progress; keeps a copy of the test output for the closing count.
quiet() { grep -v -e 'Cannot export local symbol' -e '^\[[0-9]*/[0-9]*\] ' | tee -a "$summary_log"; }

# --no-parallel: many tests assert deltas of this process's RSS (smaps_rollup) against the kernel; suites running
# side by side would move each other's figures. Threads inside a test still run concurrently.
log "1/3 debug: swift test"
start=$(date +%s)
swift test --disable-xctest --no-parallel 2>&1 | quiet; rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || status=1
echo "debug pass: exit $rc in $(( $(date +%s) - start )) s"

if [ "${MEMPROBE_SKIP_SANITIZERS:-0}" != 1 ]; then
    log "2/3 AddressSanitizer: unsafe-pointer code (CShims, system layer, arena, map)"
    start=$(date +%s)
    LSAN_OPTIONS="suppressions=$PWD/tools/lsan.supp" ASAN_OPTIONS="detect_leaks=1" \
        swift test --disable-xctest --no-parallel --scratch-path .build-asan --sanitize=address \
        --filter 'CShimsTests|MemProbeSystemTests|MemProbeArenaTests|MemProbeMapTests|MemProbeServiceTests|MemProbeProfileTests' 2>&1 | quiet; rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || status=1
    echo "asan pass: exit $rc in $(( $(date +%s) - start )) s"

    log "3/3 ThreadSanitizer: shared state (arena, maps sharing an arena, syscall mock)"
    start=$(date +%s)
    TSAN_OPTIONS="halt_on_error=1" swift test --disable-xctest --no-parallel --scratch-path .build-tsan --sanitize=thread \
        --filter 'MemProbeArenaTests|MemProbeMapTests|MemProbeSystemTests|MemProbeServiceTests|MemProbeProfileTests' 2>&1 | quiet; rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || status=1
    echo "tsan pass: exit $rc in $(( $(date +%s) - start )) s"
fi

# The example service (its own package: Hummingbird, swift-prometheus) is built and checked once, outside the
# sanitizer passes: a real server on 127.0.0.1, bounded in time, always torn down (tools/test-examples.sh).
if [ "${MEMPROBE_SKIP_EXAMPLES:-0}" != 1 ]; then
    log "examples: Examples/KVCache end to end"
    start=$(date +%s)
    tools/test-examples.sh 2>&1 | grep -v -e 'Cannot export local symbol' -e '^\[[0-9]*/[0-9]*\] '; rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || status=1
    echo "examples pass: exit $rc in $(( $(date +%s) - start )) s"
fi

# One closing line over every pass: tests run (Swift Testing's "Test run with N tests") minus tests that failed.
total=$(grep -o 'Test run with [0-9]* tests' "$summary_log" | awk '{s+=$4} END {print s+0}')
failed=$(grep '^✘ Test .* failed after' "$summary_log" | grep -vc '^✘ Test run with' || true)
if [ "$status" -eq 0 ]; then echo "memprobe tests: all passes succeeded"; else echo "memprobe tests: FAILED"; fi
echo "tests: $((total - failed)) passed, $failed failed"
exit $status
