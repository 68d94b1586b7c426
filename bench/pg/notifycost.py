#!/usr/bin/env python3
"""What another server's channel change costs a server that holds its fleet in memory
(issue 13; docs/scaling.md "How servers tell each other what changed"), on one throwaway
cluster (bench/pg/run.py's Cluster, servers and wrk). Prints a Markdown report (OUT to
write it to a file).

Two `updraft serve --db` on one database, a and b; b holds FLEET_MACS devices in its
device memory (warm-up runs of wrk with bench/pg/fleet.lua: every device checks in, then
again, until it holds 99.5% of them, before every measured run). Then ROUNDS rounds, each of two kinds of change made on a just before a run of
wrk against b (DURATION seconds, the fleet in turn: the check path's 304):

  not_devices  a sets channel beta (no device is on it) to the release: the payload this
               version sends, "<id> -": b drops its read caches, keeps its memory
  anything     the same, and a NOTIFY of the bare id (psql: what the previous version
               sent for every release, channel or rollout change): b empties its memory

For each run: b's checks, the device rows b read from the database
(updraft_device_memory_checks_total{from="database"}), b's clears of its memory, and the
CPU time of b and of PostgreSQL (every process of the cluster) per check. Kinds take
turns within a round; the report gives the median of the rounds and the ratios.

usage: bench/pg/notifycost.py
Settings (environment): FLEET_MACS=20000 DURATION=5 ROUNDS=3 WRK_THREADS=2 WRK_CONNS=64
  OUT=... UPDRAFT=... (default build/release)
Needs: PostgreSQL (Debian postgresql), wrk, a release build."""
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as pgrun  # noqa: E402  (bench/pg/run.py: the cluster, servers, wrk, /proc)

FLEET = int(os.environ.get("FLEET_MACS", "20000"))
DURATION = int(os.environ.get("DURATION", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
OUT = os.environ.get("OUT")
pgrun.DURATION = DURATION
KINDS = ("not_devices", "anything")


FROM_DB = 'updraft_device_memory_checks_total{from="database"}'
CLEARS = "updraft_device_memory_clears_total"
TOLD = 'updraft_other_server_changes_total{changed="%s"}'


def wait_told(b, before, kind):
    for _ in range(500):
        if b.metrics(30).get(TOLD % kind, 0) > before.get(TOLD % kind, 0):
            return True
        time.sleep(0.01)
    return False


def run_b(pg, b, reqfile):
    """One wrk run of the fleet against b: checks and CPU seconds."""
    meter = pgrun.CpuMeter({"b": b.p.pid, "postgresql": pg.postmaster()})
    meter.start()
    p = pgrun.wrk(b.port, reqfile, pgrun.WRK_THREADS, pgrun.WRK_CONNS, [0, FLEET])
    out = p.communicate()[0]
    cpu = meter.stop()
    r = pgrun.parse_wrk(out)
    if r is None:
        pgrun.die("wrk gave no result: " + out[-500:])
    return r, cpu


def warm(pg, b, reqfile, what):
    """Runs of the fleet against b until b holds (nearly) every device: at most 8."""
    for i in range(8):
        held = b.metrics(30).get("updraft_device_memory_devices", 0)
        if held >= FLEET * 0.995:
            return held
        r, _ = run_b(pg, b, reqfile)
        pgrun.log("%s %d: %d checks, b held %d devices before" % (what, i + 1, r["requests"],
                                                                   held))
    return b.metrics(30).get("updraft_device_memory_devices", 0)


def one(pg, url, a, b, rel, reqfile, kind):
    held = warm(pg, b, reqfile, "warm-up before " + kind)
    before = b.metrics(30)
    a.api("PUT", "/channels/beta", {"release": rel})
    if kind == "anything":
        pg.sql(url, "NOTIFY updraft_changed, 'bench-previous-version'")
    if not wait_told(b, before, kind):
        pgrun.die("b was not told of the change (%s)" % kind)
    r, cpu = run_b(pg, b, reqfile)
    after = b.metrics(30)
    n = r["requests"]
    return {"checks": n, "errors": r["errors"], "rate": n / (r["duration_us"] / 1e6),
            "db_reads": after.get(FROM_DB, 0) - before.get(FROM_DB, 0),
            "clears": after.get(CLEARS, 0) - before.get(CLEARS, 0),
            "b_us": cpu["b"] / n * 1e6, "pg_us": cpu["postgresql"] / n * 1e6,
            "held_before": held, "held": after.get("updraft_device_memory_devices", 0)}


def report(res, load0, load1, version, commit):
    med = {k: {f: statistics.median(x[f] for x in res[k]) for f in res[k][0]} for k in KINDS}
    nd, an = med["not_devices"], med["anything"]
    lines = [
        "# Another server's channel change: what it costs a server holding its fleet",
        "",
        "`bench/pg/notifycost.py` (FLEET_MACS=%d DURATION=%d ROUNDS=%d), commit %s, "
        "PostgreSQL %s; load average before %s, after %s (the machine is shared: 2 CPUs, "
        "other jobs running; compare the kinds, measured in turns within each round)."
        % (FLEET, DURATION, ROUNDS, commit, version, " ".join(load0), " ".join(load1)),
        "",
        "Server b holds the %d devices in its device memory (warmed up again before "
        "every run until it holds 99.5%% of them, at most 8 runs: \"held before\" "
        "below); before each run server a sets "
        "channel beta (no device is on it). `not_devices`: this version's notification "
        "(`<id> -`); `anything`: plus the bare id the previous version sent. Then wrk "
        "checks the fleet against b for %d s. Medians of %d rounds:" % (FLEET, DURATION,
                                                                       ROUNDS),
        "",
        "| kind | checks | device rows read from the database | memory emptied | "
        "b CPU us/check | PostgreSQL CPU us/check | checks/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in KINDS:
        m = med[k]
        lines.append("| %s | %d | %d | %d | %.1f | %.1f | %.0f |" % (
            k, m["checks"], m["db_reads"], m["clears"], m["b_us"], m["pg_us"], m["rate"]))
    lines += [
        "",
        "anything / not_devices, per check: b CPU %.2fx, PostgreSQL CPU %.2fx, "
        "(b + PostgreSQL) %.2fx." % (
            an["b_us"] / nd["b_us"], an["pg_us"] / max(nd["pg_us"], 1e-9),
            (an["b_us"] + an["pg_us"]) / (nd["b_us"] + nd["pg_us"])),
        "",
        "Every round:",
        "",
        "| round | kind | held before | checks | errors | rows read | emptied | b us/check | "
        "PostgreSQL us/check |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i in range(len(res[KINDS[0]])):
        for k in KINDS:
            x = res[k][i]
            lines.append("| %d | %s | %d | %d | %d | %d | %d | %.1f | %.1f |" % (
                i + 1, k, x["held_before"], x["checks"], x["errors"], x["db_reads"],
                x["clears"], x["b_us"], x["pg_us"]))
    return "\n".join(lines) + "\n"


def main():
    for exe in (pgrun.UPD, pgrun.MK):
        if not os.access(exe, os.X_OK):
            pgrun.die("%s missing: cmake --preset release && cmake --build --preset release"
                      % exe)
    if not shutil.which("wrk"):
        pgrun.die("wrk is not installed (apt-get install -y wrk)")
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=pgrun.ROOT,
                            capture_output=True, text=True).stdout.strip()
    load0 = open("/proc/loadavg").read().split()[:3]
    tmp = tempfile.mkdtemp(prefix="updraft-notifycost-")
    pg = pgrun.Cluster(tmp)
    servers = []
    try:
        url = pg.database("notifycost")
        img = os.path.join(tmp, "app.bin")
        subprocess.run([pgrun.MK, "esp8266-app", img, "300000", "7"], check=True,
                       capture_output=True)
        a = pgrun.Server(tmp, "a", url)
        servers.append(a)
        b = pgrun.Server(tmp, "b", url)
        servers.append(b)
        rel = a.api("POST", "/releases?version=2.0.0&channel=stable",
                    raw=open(img, "rb").read(), ctype="application/octet-stream")["id"]
        reqfile = os.path.join(tmp, "check.req")
        md5 = hashlib.md5(open(img, "rb").read()).hexdigest()
        open(reqfile, "wb").write(pgrun.device_request(b.port, "2.0.0", md5,
                                                       os.path.getsize(img)))
        time.sleep(1.5)  # b reads the release
        res = {k: [] for k in KINDS}
        for i in range(ROUNDS):
            for k in KINDS:
                x = one(pg, url, a, b, rel, reqfile, k)
                res[k].append(x)
                pgrun.log("round %d %s: %s" % (i + 1, k, {f: round(v, 1) for f, v in
                                                          x.items()}))
        load1 = open("/proc/loadavg").read().split()[:3]
        text = report(res, load0, load1, pg.version, commit)
        if OUT:
            open(OUT, "w").write(text)
            pgrun.log("wrote " + OUT)
        print(text)
    finally:
        for s in servers:
            s.stop()
        pg.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
