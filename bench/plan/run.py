#!/usr/bin/env python3
"""The live count of the dashboard's "New rollout" form (issue 11): how long POST
/api/v1/rollouts/plan takes for a target filter with N devices in the registry (default
100,000), against a reference in the same run: GET /api/v1/devices?filter=...&limit=1,
the device list's count of the same filter (the plan also hashes every matching MAC
into its waves, checks the channels' signing keys and the other active rollouts). The
dashboard asks for the count 300 ms after the last keystroke: the goal is a p95 under
200 ms. Also the server's CPU time per plan. Writes bench/results/plan.md.

usage: bench/plan/run.py [N]     (release build in build/release: cmake --preset release)
Settings (environment): UPDRAFT, MKIMAGE (binaries), REPEAT (requests per filter, 20)
Python 3 standard library only; loopback only. The devices are written into the stopped
server's SQLite database (as ESP8266 devices that checked in), the release is uploaded
through the API."""
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UPD = os.environ.get("UPDRAFT", os.path.join(ROOT, "build/release/src/cli/updraft"))
MK = os.environ.get("MKIMAGE", os.path.join(ROOT, "build/release/tests/cli/mkimage"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
REPEAT = int(os.environ.get("REPEAT", "20"))
TOKEN = "bench-plan-token-0123456789"
OUT = os.path.join(ROOT, "bench/results/plan.md")
GOAL_MS = 200
FILTERS = ["all", "version=1.0.0", "tag=lab", "version<1.0.0 tag=kitchen", "seen<1h"]


def start(data):
    env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
    p = subprocess.Popen([UPD, "serve", "--listen", "127.0.0.1:0", "--data", data],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    for _ in range(100):
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)", p.stdout.readline().decode())
        if m:
            return p, int(m.group(1))
    raise SystemExit("the server did not start")


def call(port, method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1%s" % (port, path), method=method,
                                 data=data, headers={"Authorization": "Bearer " + TOKEN,
                                                     "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null")


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(30)


def cpu_ms(p):
    """The server's CPU time so far (user + system), in ms."""
    with open("/proc/%d/stat" % p.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def main():
    tmp = tempfile.TemporaryDirectory(prefix="updraft-bench-plan-")
    data = os.path.join(tmp.name, "data")
    img = os.path.join(tmp.name, "app.bin")
    subprocess.run([MK, "esp8266-app", img, "300000", "7"], check=True)
    p, port = start(data)
    rel = call(port, "POST", "/releases?version=2.0.0", raw=open(img, "rb").read())
    stop(p)
    now = int(time.time() * 1000)
    db = sqlite3.connect(os.path.join(data, "updraft.db"))
    tags = ["", "lab", "kitchen", "lab,kitchen"]
    rows = (("%02X:%02X:%02X:%02X:%02X:%02X" % (0x5C, 0xCF, 0x7F, i >> 16 & 255, i >> 8 & 255,
                                                i & 255),
             "esp8266", ["0.9.0", "1.0.0", "1.1.0"][i % 3], 1048576, 4194304, now - i * 1000,
             now - (i % 7200) * 1000, tags[i % 4]) for i in range(N))
    db.executemany("INSERT INTO devices(mac, family, version, free_space, chip_size, "
                   "first_seen_ms, last_seen_ms, tags) VALUES (?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()
    p, port = start(data)
    lines = []
    try:
        for f in FILTERS:
            plan, ref = [], []
            count = total = None
            plan_cpu = 0.0
            for _ in range(REPEAT):
                c0 = cpu_ms(p)
                ms, out = timed(lambda: call(port, "POST", "/rollouts/plan",
                                             {"release": rel["id"], "target": f}))
                plan_cpu += cpu_ms(p) - c0
                plan.append(ms)
                count = out["total"]["eligible"]
                q = "" if f == "all" else "&filter=" + urllib.parse.quote(f)
                ms, out = timed(lambda: call(port, "GET", "/devices?limit=1" + q))
                ref.append(ms)
                total = out["total"]
            pm, rm, pp = statistics.median(plan), statistics.median(ref), p95(plan)
            lines.append("| `%s` | %d | %d | %.1f | %.1f | %.1f | %s | %.1f | %.2f |" % (
                f, count, total, pm, pp, plan_cpu / REPEAT, "yes" if pp < GOAL_MS else "no",
                rm, pm / rm if rm else 0))
            print(lines[-1], flush=True)
    finally:
        stop(p)
    load = os.getloadavg()[0]
    with open(OUT, "w") as o:
        o.write("# Rollout plan (the dashboard's live count) at %d devices\n\n" % N)
        o.write("Made by `bench/plan/run.py %d` (%d requests per filter, loopback, release "
                "build, SQLite, %d CPUs, load average %.1f at the end). The plan is `POST "
                "/api/v1/rollouts/plan`; its goal is a p95 under %d ms (the dashboard asks "
                "300 ms after the last keystroke). CPU ms is the server's CPU time per plan "
                "(user + system, from /proc), which a loaded machine changes less than the "
                "wall time. The reference is the device list's count of the same filter, "
                "`GET /api/v1/devices?filter=F&limit=1`, in the same run.\n\n"
                % (N, REPEAT, os.cpu_count(), load, GOAL_MS))
        o.write("| filter | plan: devices | list: total | plan median ms | plan p95 ms | "
                "plan CPU ms | p95 < %d ms | list median ms | plan / list |\n" % GOAL_MS)
        o.write("|---|---|---|---|---|---|---|---|---|\n")
        o.write("\n".join(lines) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
