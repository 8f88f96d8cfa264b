#!/usr/bin/env python3
"""Prints the KVCache experiment's results (results.jsonl from tools/kvcache-experiment) as Markdown tables."""
import json
import sys

MiB = 1 << 20


def mib(v):
    return "—" if v is None else f"{v / MiB:,.0f}"


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    if not rows:
        print("no results")
        return
    print("| scenario | store | baseline RSS | after fill RSS / RSS−LazyFree | after evict | after mix | after idle | live data | idle RSS ÷ (live + baseline) | survived |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        live = r["keep"] * r["size"]
        base = r["baseline"]["rss"]
        idle = r.get("afterIdle") or {}
        ratio = f"{idle['effectiveRss'] / (live + base):.2f}" if idle else "—"
        cells = [
            str(r["scenario"]), r["store"], mib(base),
            f"{mib(r['afterFill']['rss'])} / {mib(r['afterFill']['effectiveRss'])}",
            f"{mib(r['afterEvict']['rss'])} / {mib(r['afterEvict']['effectiveRss'])}",
            f"{mib(r['afterMix']['rss'])} / {mib(r['afterMix']['effectiveRss'])}" if r.get("afterMix") else "—",
            f"{mib(idle.get('rss'))} / {mib(idle.get('effectiveRss'))}" if idle else "—",
            mib(live), ratio, "yes" if r["survived"] else "**no**",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    print("| scenario | store | phase | requests | req/s | p50 ms | p99 ms | p99.9 ms | HTTP errors | socket errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for phase in ("fill", "evict", "churn", "mix"):
            w = r.get(phase)
            if not w:
                continue
            cells = [str(r["scenario"]), r["store"], phase, f"{w['requests']:,}", f"{w['rps']:,.0f}",
                     f"{w['p50_us'] / 1000:.2f}", f"{w['p99_us'] / 1000:.2f}", f"{w['p999_us'] / 1000:.2f}",
                     str(w["http_errors"]), str(w["socket_errors"])]
            print("| " + " | ".join(cells) + " |")
    lim = [r for r in rows if r["scenario"] == 2]
    if lim:
        print()
        print("| store | limit | limit applied | cgroup peak | survived | after idle RSS | oom |")
        print("|---|---|---|---|---|---|---|")
        for r in lim:
            idle = r.get("afterIdle") or {}
            applied = "yes" if r["limitSet"] else f"no ({r['limitError']})"
            print(f"| {r['store']} | {mib(r['limit'])} MiB | {applied} | {mib(r['cgroupPeak'])} MiB | "
                  f"{'yes' if r['survived'] else '**no**'} | {mib(idle.get('rss'))} MiB | {r['oom'].strip()} |")


if __name__ == "__main__":
    main(sys.argv[1])
