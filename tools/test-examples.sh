#!/usr/bin/env bash
# Builds the example service (Examples/KVCache, release) and runs its CI checks (tools/kvcache/ci_checks.py):
# a real server on 127.0.0.1 with --port 0, 50,000 x 1 KiB, /metrics through prometheus_client's parser,
# `memprobe snapshot` and `memprobe watch` against it. Bounded in time; every process torn down.
# Uses $MEMPROBE, else .build/debug/memprobe (built here when missing). Not for the sanitizer passes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/.build-kvcache"
mkdir -p "$work"
start=$(date +%s)
echo "== building Examples/KVCache (release) ==" >&2
(cd "$root/Examples/KVCache" && timeout 3600 swift build -c release --product kvcache 2>&1 | tail -3)
memprobe="${MEMPROBE:-$root/.build/debug/memprobe}"
if [ -z "${MEMPROBE:-}" ]; then (cd "$root" && timeout 3600 swift build --product memprobe 2>&1 | tail -1); fi
# A real Prometheus text parser (the Python client's), in a venv of our own.
if [ ! -x "$work/venv/bin/python" ] || ! "$work/venv/bin/python" -c 'import prometheus_client' 2>/dev/null; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q "prometheus-client>=0.20"
fi
echo "== kvcache checks ==" >&2
KV_TEST_DIR="$work" timeout 600 "$work/venv/bin/python" "$root/tools/kvcache/ci_checks.py" \
    "$root/Examples/KVCache/.build/release/kvcache" "$memprobe"
echo "test-examples: done in $(( $(date +%s) - start )) s" >&2
