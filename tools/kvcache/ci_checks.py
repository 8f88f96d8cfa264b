#!/usr/bin/env python3
"""CI checks of the KVCache example and `memprobe watch` (issue 9, small scale). Run by tools/test-examples.sh.

Every server and watch is started with a deadline and torn down in `finally`, also when a check fails; the whole
run is bounded by an alarm. Figures are checked against independent sources: /proc/<pid>/status (VmRSS), the
server's own /debug/memstats, its /metrics (parsed by prometheus_client's parser) and `memprobe snapshot <pid>`.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

KV, MEMPROBE = sys.argv[1], sys.argv[2]
ITEMS, SIZE, KEEP = 50_000, 1024, 5_000
KV_DIR = os.environ.get("KV_TEST_DIR", "/tmp")
failures = []
children = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(name)


def request(port, method, path, body=None, timeout=30):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def vmrss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def start_server(*args):
    p = subprocess.Popen([KV, "--host", "127.0.0.1", "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children.append(p)
    line = p.stdout.readline()  # "kvcache pid=P port=N ..." once it listens (bounded by the alarm)
    fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    if int(fields.get("pid", -1)) != p.pid:
        raise RuntimeError(f"unexpected start line {line!r}: {p.stderr.read()}")
    return p, int(fields["port"])


def stop(p, timeout=10):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def arena_from_metrics(port):
    status, body = request(port, "GET", "/metrics")
    figures = {}
    for family in text_string_to_metric_families(body.decode()):  # raises on text a Prometheus parser rejects
        for s in family.samples:
            if s.labels.get("arena") == "kv":
                figures[s.name] = figures.get(s.name, 0) + int(s.value)  # heap_released: lazy + discarded
    return status, figures


def arena_from_memstats(port):
    m = json.loads(request(port, "GET", "/debug/memstats")[1])
    (a,) = [a for a in m["arenas"] if a["name"] == "kv"]
    return m, a["stats"]


def watch(*args, timeout=30):
    return subprocess.run([MEMPROBE, "watch", *args], capture_output=True, text=True, timeout=timeout)


def server_checks():
    p, port = start_server("--store", "arena", "--strategy", "decay:500ms", "--max-value-size", "65536")
    try:
        check("healthz", request(port, "GET", "/healthz")[0] == 200)
        status, body = request(port, "POST", f"/kv/_fill?count={ITEMS}&size={SIZE}&prefix=k", timeout=120)
        check("fill 50,000 x 1 KiB", status == 200 and json.loads(body)["filled"] == ITEMS, body.decode().strip())
        rss_filled = vmrss(p.pid)
        m, st = arena_from_memstats(port)
        check("arena holds the values (Alloc >= items x size)", st["alloc"] >= ITEMS * SIZE, f"alloc={st['alloc']}")
        # Keep every 10th value: scattered survivors, one per page or so (what a real eviction leaves).
        status, body = request(port, "POST", f"/kv/_evict?keep={KEEP}&stride=10")
        check("evict 90 % (every 10th kept)", status == 200 and json.loads(body)["kept"] == KEEP, body.decode().strip())
        evicted = (ITEMS - KEEP) * SIZE
        # RSS (the kernel's VmRSS) falls within a few seconds, with no call from the client (decay + governor).
        deadline, fell = time.monotonic() + 6, False
        while time.monotonic() < deadline and not fell:
            time.sleep(0.25)
            fell = rss_filled - vmrss(p.pid) >= 0.7 * evicted
        check("RSS falls within 6 s after the eviction", fell, f"VmRSS {rss_filled >> 20} -> {vmrss(p.pid) >> 20} MiB, evicted {evicted >> 20} MiB")
        # The store's compaction moved the scattered survivors together: in-use pages close to the live bytes ...
        _, st = arena_from_memstats(port)
        check("compaction: arena HeapInuse within 1.3 x Alloc + 16 MiB", st["heapInuse"] <= 1.3 * st["alloc"] + (16 << 20),
              f"heapInuse={st['heapInuse'] >> 20} MiB alloc={st['alloc'] >> 20} MiB")
        # ... and every moved value is intact (the fill writes byte j of value i as (i*31 + 1 + j) mod 256).
        intact = True
        for i in list(range(0, ITEMS, 10))[::97] + [ITEMS - 10]:
            status, body = request(port, "GET", f"/kv/k{i}")
            intact &= status == 200 and body == bytes(((i * 31 + 1) + j) & 0xFF for j in range(SIZE))
        check("kept values intact after compaction", intact and request(port, "GET", "/kv/k11")[0] == 404)

        # /metrics parses with a real parser and its arena gauges equal /debug/memstats (once the figures settle:
        # the governor updates the gauges on its tick).
        names = {"alloc": "memprobe_arena_alloc_bytes", "heapInuse": "memprobe_arena_heap_inuse_bytes",
                 "heapReleased": "memprobe_arena_heap_released_bytes", "sys": "memprobe_arena_sys_bytes"}
        equal, detail = False, ""
        for _ in range(20):
            try:
                status, before = arena_from_metrics(port)
                _, st = arena_from_memstats(port)
                _, after = arena_from_metrics(port)
            except Exception as e:  # a parse error is a failure, reported below
                detail = f"parse error: {e}"
                break
            want = {names[k]: st[k] for k in names}
            got = {k: before.get(k) for k in want}
            equal = status == 200 and before == after and got == want
            detail = f"metrics {got} memstats {want}"
            if equal:
                break
            time.sleep(0.5)
        check("/metrics parses and its arena gauges equal /debug/memstats", equal, detail)

        # memprobe snapshot <pid> reads the same arena figures from outside (the published file).
        same, detail = False, ""
        for _ in range(10):
            _, st = arena_from_memstats(port)
            r = subprocess.run([MEMPROBE, "snapshot", str(p.pid), "--format", "json"], capture_output=True, text=True, timeout=30)
            snap = json.loads(r.stdout) if r.returncode == 0 else {}
            arenas = [a for a in snap.get("arenas", []) if a["name"] == "kv"]
            got = {k: arenas[0]["stats"][k] for k in ("alloc", "heapInuse", "heapReleased")} if arenas else None
            want = {k: st[k] for k in ("alloc", "heapInuse", "heapReleased")}
            same = got == want
            detail = f"snapshot {got} memstats {want} rc={r.returncode}"
            if same:
                break
            time.sleep(0.5)
        check("memprobe snapshot <pid> shows the same arena figures", same, detail)

        # watch on the live server: >= 3 JSON samples in 3 s, with the published arena figures.
        r = watch(str(p.pid), "--format", "json", "--duration", "3", "--interval", "1s")
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        check("watch --format json --duration 3 yields >= 3 samples", r.returncode == 0 and len(lines) >= 3
              and all(l["pid"] == p.pid and l["arenaAlloc"] > 0 and l["rss"] > 0 for l in lines), f"rc={r.returncode} samples={len(lines)}")

        # The heap profile: served at /debug/pprof/heap, and fetched from outside by `memprobe profile <pid> -o`
        # (the governor answers through the published file); both are valid profiles with the arena's data in them.
        status, body = request(port, "GET", "/debug/pprof/heap")
        served = os.path.join(KV_DIR, "served-heap.pb.gz")
        with open(served, "wb") as f:
            f.write(body)
        r = subprocess.run([MEMPROBE, "profile", served, "--format", "json"], capture_output=True, text=True, timeout=60)
        total = json.loads(r.stdout).get("total", 0) if r.returncode == 0 else 0
        check("/debug/pprof/heap serves a gzip'ed pprof profile with the kept data", status == 200 and body[:2] == b"\x1f\x8b"
              and total > 0, f"status={status} rc={r.returncode} total={total} {r.stderr.strip()[:120]}")
        fetched = os.path.join(KV_DIR, "fetched-heap.pb.gz")
        r = subprocess.run([MEMPROBE, "profile", str(p.pid), "-o", fetched, "--format", "json", "--timeout", "20"],
                           capture_output=True, text=True, timeout=60)
        total = json.loads(r.stdout).get("total", 0) if r.returncode == 0 else 0
        check("memprobe profile <pid> -o FILE fetches the server's heap profile", r.returncode == 0 and total > 0,
              f"rc={r.returncode} total={total} {r.stderr.strip()[:120]}")

        # Bad requests: 4xx with one line; the server keeps serving and the store is intact.
        bad = [("PUT", "/kv/_reserved", b"x", 400), ("PUT", "/kv/a%20b", b"x", 400), ("PUT", "/kv/" + "a" * 300, b"x", 400),
               ("PUT", "/kv/big", b"x" * 70000, 413), ("GET", "/kv/absent", None, 404), ("DELETE", "/kv/absent", None, 404),
               ("POST", "/kv/_fill?count=abc&size=1", None, 400), ("POST", "/kv/_fill?count=-1&size=1", None, 400),
               ("POST", "/kv/_fill?size=1", None, 400), ("POST", "/kv/_fill?count=1&size=99999999", None, 400),
               ("POST", "/kv/_fill?count=99999999999999999999&size=1", None, 400), ("POST", "/kv/_fill?count=1&size=1&prefix=a/b", None, 400),
               ("POST", "/kv/_evict?keep=1e3", None, 400), ("POST", "/kv/_evict", None, 400),
               ("POST", "/kv/_evict?keep=1&stride=0", None, 400)]
        for method, path, body, want in bad:
            status, text = request(port, method, path, body)
            one_line = text.count(b"\n") == 1 and len(text) < 200
            check(f"{method} {path[:40]} -> {want}", status == want and one_line, f"{status} {text[:120]!r}")
        status, _ = request(port, "PUT", "/kv/hello", b"world")
        check("PUT then GET round-trips", status == 201 and request(port, "GET", "/kv/hello") == (200, b"world"))
        check("kept values intact after bad requests", request(port, "GET", "/kv/k0")[0] == 200 and
              len(request(port, "GET", "/kv/k0")[1]) == SIZE)
    finally:
        rc = stop(p)
    check("SIGTERM ends the server with exit 0", rc == 0, f"rc={rc}")


def watch_checks():
    # A process that exits mid-watch: exit 0, says so, stops early.
    sleeper = subprocess.Popen(["sleep", "2"])
    children.append(sleeper)
    t0 = time.monotonic()
    r = watch(str(sleeper.pid), "--format", "json", "--duration", "20", "--interval", "0.5s")
    sleeper.wait()
    check("watch of a process that exits mid-watch: exit 0, says so", r.returncode == 0 and "exited" in r.stderr
          and time.monotonic() - t0 < 10, f"rc={r.returncode} stderr={r.stderr.strip()!r}")
    # A pid that does not exist: exit 2 with one line.
    r = watch("2147483600", "--duration", "2")
    check("watch of a bad pid: exit 2, one line", r.returncode == 2 and r.stderr.count("\n") == 1, f"rc={r.returncode} stderr={r.stderr!r}")
    # --record and --plot: a checked file each; the record replays into the same chart.
    out = os.environ.get("KV_TEST_DIR", "/tmp")
    sleeper = subprocess.Popen(["sleep", "3"])
    children.append(sleeper)
    marks = os.path.join(out, "ci.marks")
    with open(marks, "w") as f:
        f.write(f"{time.time() + 1:.3f} phase\n")
    rec, svg, svg2 = (os.path.join(out, n) for n in ("ci.record.jsonl", "ci.svg", "ci-replay.svg"))
    r = watch(str(sleeper.pid), "--format", "json", "--interval", "0.5s", "--record", rec, "--plot", svg, "--marks", marks)
    ok = r.returncode == 0 and os.path.exists(rec) and open(svg).read().count("<polyline") >= 2 and "class=\"mark\"" in open(svg).read()
    r2 = watch("--replay", rec, "--plot", svg2)
    check("watch --record/--plot/--marks write a chart; --replay redraws it", ok and r2.returncode == 0 and os.path.exists(svg2),
          f"rc={r.returncode}/{r2.returncode} {r.stderr.strip()!r}")
    r = watch("--replay", marks, "--plot", svg2)
    check("watch --replay of a file that is not a record: exit 65, one line", r.returncode == 65 and r.stderr.count("\n") == 1, f"rc={r.returncode}")
    r = watch("1", "--interval", "0s")
    check("watch --interval 0s: exit 64", r.returncode == 64, f"rc={r.returncode}")


def main():
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("kvcache CI checks took over 300 s")))
    signal.alarm(300)
    try:
        server_checks()
        watch_checks()
    except Exception as e:
        check("no unexpected error", False, repr(e))
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait()
    print(f"{len(failures)} failed" if failures else "all kvcache checks passed")
    sys.exit(1 if failures else 0)


main()
