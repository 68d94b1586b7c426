#!/usr/bin/env python3
"""Where one server's PostgreSQL writer spends its time (issue 13: the writer keeps up
with margin), on one throwaway cluster (bench/pg/run.py's Cluster and settings, plus
pg_stat_statements). Prints a Markdown report (OUT to write it to a file).

One `updraft serve --db` on the cluster, loaded by wrk with bench/pg/fleet.lua (FLEET_MACS
devices in turn, the exact ESP8266 "no update" request of bench/server), in phases:

  first-contact  the fleet's first run on an empty database: each device's first check
                 inserts its devices and device_seen rows, the later ones are routine
  routine-N      the next RUNS runs: every device known, each check a routine record

For each phase: checks, device records dropped (updraft_dropped_records_total), the
writer's batches (updraft_store_seconds{op="batch"}: count, records per batch, seconds in
batches), the CPU time of the writer thread (the thread named "writer", /proc), of the
whole server and of PostgreSQL (every process of the cluster), and per statement of
pg_stat_statements (reset before each phase): calls, rows, execution time. The writer's
capacity is records per second of its time in batches: what it could keep without
waiting for records (the rate it would drop records above). What a first contact costs
PostgreSQL is estimated from the first phase: its PostgreSQL CPU less its routine records
(all but FLEET_MACS) at the first routine phase's cost per record, over FLEET_MACS.

usage: bench/pg/writerprof.py
Settings (environment): FLEET_MACS=10000 DURATION=10 RUNS=2 WRK_THREADS=2 WRK_CONNS=64
  TOP=12 (statements listed) OUT=... UPDRAFT=... (default build/release)
Needs: PostgreSQL (Debian postgresql, with pg_stat_statements), wrk, a release build."""
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as pgrun  # noqa: E402  (bench/pg/run.py: the cluster, servers, wrk, /proc)

ROOT = pgrun.ROOT
RUNS = int(os.environ.get("RUNS", "2"))
TOP = int(os.environ.get("TOP", "12"))
OUT = os.environ.get("OUT")


def writer_ticks(pid):
    """utime+stime of the server's thread named "writer", in clock ticks (0 if none)."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    for t in tids:
        try:
            if open("/proc/%d/task/%s/comm" % (pid, t)).read().strip() != "writer":
                continue
            f = open("/proc/%d/task/%s/stat" % (pid, t)).read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except (OSError, IndexError):
            pass
    return total


def batch_metrics(srv):
    """(batches, seconds) of the server's writer so far (/metrics)."""
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % srv.port,
                                 headers={"Authorization": "Bearer " + pgrun.TOKEN})
    text = urllib.request.urlopen(req, timeout=60).read().decode()
    n = re.search(r'^updraft_store_seconds_count\{op="batch"\} (\S+)', text, re.M)
    s = re.search(r'^updraft_store_seconds_sum\{op="batch"\} (\S+)', text, re.M)
    return (float(n.group(1)) if n else 0.0, float(s.group(1)) if s else 0.0)


STMTS = ("SELECT calls, rows, total_exec_time, "
         "regexp_replace(left(query, 90), '\\s+', ' ', 'g') FROM pg_stat_statements "
         "WHERE dbid=(SELECT oid FROM pg_database WHERE datname=current_database()) "
         "ORDER BY total_exec_time DESC")


def phase(name, pg, url, srv, reqfile):
    pg.sql(url, "SELECT pg_stat_statements_reset()")
    d0 = srv.dropped()
    b0 = batch_metrics(srv)
    w0 = writer_ticks(srv.p.pid)
    meter = pgrun.CpuMeter({"server": srv.p.pid, "postgresql": pg.postmaster()})
    meter.start()
    p = pgrun.wrk(srv.port, reqfile, pgrun.WRK_THREADS, pgrun.WRK_CONNS, [0, pgrun.FLEET_MACS])
    out = p.communicate()[0]
    srv.api("GET", "/devices?limit=1")  # an admin read waits for the writer to write all
    cpu = meter.stop()
    w1 = writer_ticks(srv.p.pid)
    b1 = batch_metrics(srv)
    r = pgrun.parse_wrk(out)
    if not r:
        pgrun.die("wrk gave no result: " + out[-1000:])
    stmts = []
    for line in pg.sql(url, STMTS).splitlines():
        calls, rows, ms, q = line.split("\t", 3)
        stmts.append((int(calls), int(rows), float(ms), q))
    dropped = srv.dropped() - d0
    checks = r["requests"]
    nb, bs = b1[0] - b0[0], b1[1] - b0[1]
    x = {"name": name, "checks": checks, "rate": checks / (r["duration_us"] / 1e6),
         "dropped": dropped, "written": checks - dropped, "batches": nb, "batch_s": bs,
         "writer_s": (w1 - w0) / pgrun.HZ, "server_s": cpu["server"], "pg_s": cpu["postgresql"],
         "busy": cpu["_machine_busy"] / cpu["_machine_total"], "stmts": stmts}
    pgrun.log("%s: %d checks (%.0f/s), %d dropped, %d batches in %.1f s, writer %.1f s CPU, "
              "PostgreSQL %.1f s CPU" % (name, checks, x["rate"], dropped, nb, bs, x["writer_s"],
                                        x["pg_s"]))
    return x


def report(phases, load0, load1, version):
    commit = pgrun.subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
    L = ["# Where one server's PostgreSQL writer spends its time", "",
         "`bench/pg/writerprof.py` (method in its header) at %s, %s; PostgreSQL %s; "
         "load average before / after: %s / %s; wrk -t%d -c%d -d%ds, %d devices." % (
             commit, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), version,
             " ".join(load0), " ".join(load1), pgrun.WRK_THREADS, pgrun.WRK_CONNS,
             pgrun.DURATION, pgrun.FLEET_MACS), "",
         "| phase | checks/s | records written | dropped | batches | records / batch | "
         "writer capacity (records / s in batches) | writer thread CPU us / record | server "
         "CPU us / check | PostgreSQL CPU us / record | machine busy |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in phases:
        w = x["written"] or 1
        L.append("| %s | %.0f | %d | %d | %d | %.0f | %.0f | %.1f | %.1f | %.1f | %.0f%% |" % (
            x["name"], x["rate"], x["written"], x["dropped"], x["batches"],
            w / x["batches"] if x["batches"] else 0, w / x["batch_s"] if x["batch_s"] else 0,
            x["writer_s"] * 1e6 / w, x["server_s"] * 1e6 / max(x["checks"], 1),
            x["pg_s"] * 1e6 / w, 100 * x["busy"]))
    if len(phases) > 1 and phases[1]["written"]:
        fc, r1 = phases[0], phases[1]
        routine_us = r1["pg_s"] * 1e6 / r1["written"]
        first_us = (fc["pg_s"] * 1e6 - (fc["written"] - pgrun.FLEET_MACS) * routine_us) / \
            pgrun.FLEET_MACS
        L += ["", "PostgreSQL CPU per first contact (estimated, see the header): %.1f us, %.2fx "
              "a routine record's %.1f us." % (first_us, first_us / routine_us, routine_us)]
    for x in phases:
        w = x["written"] or 1
        tot = sum(s[2] for s in x["stmts"]) or 1
        L += ["", "### %s: statements (pg_stat_statements, execution time in the backend)" %
              x["name"], "",
              "| calls | rows | ms | us / record written | share | statement |",
              "|---:|---:|---:|---:|---:|---|"]
        for calls, rows, ms, q in x["stmts"][:TOP]:
            L.append("| %d | %d | %.0f | %.2f | %.0f%% | `%s` |" % (
                calls, rows, ms, ms * 1e3 / w, 100 * ms / tot, q.replace("|", "\\|")))
    return "\n".join(L) + "\n"


def main():
    if not os.path.exists(pgrun.UPD):
        pgrun.die("no release build at %s (cmake --preset release)" % pgrun.UPD)
    if not shutil.which("wrk"):
        pgrun.die("wrk is not installed (apt-get install -y wrk)")
    pgrun.PG_SETTINGS["shared_preload_libraries"] = "pg_stat_statements"
    tmp = tempfile.mkdtemp(prefix="updraft-writerprof-")
    load0 = open("/proc/loadavg").read().split()[:3]
    pg = pgrun.Cluster(tmp)
    srv = None
    try:
        url = pg.database("writerprof")
        pg.sql(url, "CREATE EXTENSION pg_stat_statements")
        img = os.path.join(tmp, "app.bin")
        pgrun.subprocess.run([pgrun.MK, "esp8266-app", img, "300000", "7"], check=True,
                             capture_output=True)
        srv = pgrun.Server(tmp, "pg-a", url)
        srv.api("POST", "/releases?version=2.0.0&channel=stable", raw=open(img, "rb").read(),
                ctype="application/octet-stream")
        reqfile = os.path.join(tmp, "check.req")
        md5 = hashlib.md5(open(img, "rb").read()).hexdigest()
        open(reqfile, "wb").write(pgrun.device_request(srv.port, "2.0.0", md5,
                                                       os.path.getsize(img)))
        phases = [phase("first-contact", pg, url, srv, reqfile)]
        for i in range(RUNS):
            phases.append(phase("routine-%d" % (i + 1), pg, url, srv, reqfile))
        load1 = open("/proc/loadavg").read().split()[:3]
        text = report(phases, load0, load1, pg.version)
        if OUT:
            open(OUT, "w").write(text)
            pgrun.log("wrote " + OUT)
        print(text)
    finally:
        if srv:
            srv.stop()
        pg.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
