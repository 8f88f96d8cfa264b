#!/usr/bin/env bash
# Installs the Debian packages memprobe builds and tests against (libunwind-dev, zlib1g-dev; libnuma1, which is
# dlopen'ed at run time so the NUMA tests run for real — the build itself needs no libnuma) when they are missing.
# As root it installs them; otherwise it prints the exact command and fails.
set -euo pipefail
missing=()
{ compgen -G '/usr/lib/*-linux-gnu/libnuma.so.1' >/dev/null || [ -e /usr/lib/libnuma.so.1 ]; } || missing+=(libnuma1)
{ [ -e /usr/include/x86_64-linux-gnu/libunwind.h ] || [ -e /usr/include/libunwind.h ] || [ -e /usr/include/aarch64-linux-gnu/libunwind.h ]; } || missing+=(libunwind-dev)
# zlib: heap profiles are gzip'ed (CShims/heapprofile.c links -lz).
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "memprobe needs: ${missing[*]}. Run as root:" >&2
    echo "  $cmd" >&2
    exit 1
fi
echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${missing[@]}" >/dev/null
