#!/usr/bin/env python3
"""Where one server's PostgreSQL writer spends its time (issue 13: the writer keeps up
with margin), on one throwaway cluster (bench/pg/run.py's Cluster and settings, plus
pg_stat_statements). Prints a Markdown report (OUT to write it to a file).

One `updraft serve --db` on the cluster, loaded by wrk with bench/pg/fleet.lua (FLEET_MACS
devices in turn, the exact ESP8266 "no update" request of bench/server), in phases:

  first-contact  the fleet's first run on an empty database: each device's first check
                 inserts its devices and device_seen rows, the later ones are routine
  routine-N      the next RUNS runs: every device known, each check a routine record
  (not measured) release 3.0.0 (another, small image) made current and offered to each
                 device once, which downloads it once, as `updraft sim`'s devices do (one
                 check each, not wrk's: a device offered it again and again would download
                 it again and again, and the rules would hold it back as failing); a
                 thousand devices at a time, each thousand written before the next
  updated        one check of each device with 3.0.0's MD5 and version, the exact request
                 an ESP8266 sends after installing it and rebooting (8 client threads, as
                 fast as the server answers): each is an "updated" record (its devices row
                 closes the offer and takes the new facts and running release; events
                 `updated` and `check`), the wave's final checks; no other record

For each phase: checks, device records dropped (updraft_dropped_records_total), the
writer's batches (updraft_store_seconds{op="batch"}: count, records per batch, seconds in
batches), the CPU time of the writer thread (the thread named "writer", /proc), of the
whole server and of PostgreSQL (every process of the cluster), and per statement of
pg_stat_statements (reset before each phase): calls, rows, execution time. The writer's
capacity is records per second of its time in batches: what it could keep without
waiting for records (the rate it would drop records above). What a first contact costs
PostgreSQL is estimated from the first phase: its PostgreSQL CPU less its routine records
(all but FLEET_MACS) at the first routine phase's cost per record, over FLEET_MACS. The
updated phase's records are all "updated" ones: its row gives their costs as they are.

usage: bench/pg/writerprof.py
Settings (environment): FLEET_MACS=10000 DURATION=10 RUNS=2 WRK_THREADS=2 WRK_CONNS=64
  TOP=12 (statements listed) OUT=... UPDRAFT=... (default build/release)
  NO_MAC_TRGM=1 (drop the MACs' trigram index, pg-migration 4's, at the start: its cost)
Needs: PostgreSQL (Debian postgresql, with pg_stat_statements), wrk, a release build."""
import hashlib
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

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
    m = srv.metrics(60)
    return (m.get('updraft_store_seconds_count{op="batch"}', 0.0),
            m.get('updraft_store_seconds_sum{op="batch"}', 0.0))


STMTS = ("SELECT calls, rows, total_exec_time, wal_bytes, "
         "regexp_replace(left(query, 90), '\\s+', ' ', 'g') FROM pg_stat_statements "
         "WHERE dbid=(SELECT oid FROM pg_database WHERE datname=current_database()) "
         "ORDER BY total_exec_time DESC")


def updated_events(pg, url):
    return int(pg.sql(url, "SELECT count(*) FROM events WHERE kind='updated'").strip())


def fleet_mac(n):
    """bench/pg/fleet.lua's MAC of device n."""
    return "5C:CF:7F:%02X:%02X:%02X" % ((n >> 16) & 255, (n >> 8) & 255, n & 255)


def one_pass(srv, version, md5, size, pace=0):
    """One check of each device of the fleet (FLEET_MACS, fleet.lua's MACs) claiming
    version and image md5 (size bytes), each answer read to its end (a 200's body: a
    completed download), from 8 threads: (checks, seconds, the status lines neither 200
    nor 304). pace: after every pace devices wait for the writer to write their records
    (0: no pause)."""
    def one(n):
        req = pgrun.device_request(srv.port, version, md5, size, fleet_mac(n))
        s = pgrun.socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(req)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        status = buf.split(b"\r\n", 1)[0].decode(errors="replace")
        return None if (" 200 " in status or " 304 " in status) else status
    bad = []
    step = pace or pgrun.FLEET_MACS
    t0 = time.time()
    with ThreadPoolExecutor(8) as ex:
        for first in range(0, pgrun.FLEET_MACS, step):
            last = min(first + step, pgrun.FLEET_MACS)
            bad += [x for x in ex.map(one, range(first, last)) if x]
            if pace:
                srv.api("GET", "/devices?limit=1")  # the writer wrote them all
    return pgrun.FLEET_MACS, time.time() - t0, bad


def phase(name, pg, url, srv, reqfile=None, updated_check=None):
    """One phase: wrk with reqfile for DURATION, or (updated_check: (version, md5, size))
    one check of each device, from one_pass."""
    pg.sql(url, "SELECT pg_stat_statements_reset()")
    u0 = updated_events(pg, url)
    lsn0 = pg.sql(url, "SELECT pg_current_wal_lsn()").strip()
    d0 = srv.dropped()
    b0 = batch_metrics(srv)
    w0 = writer_ticks(srv.p.pid)
    meter = pgrun.CpuMeter({"server": srv.p.pid, "postgresql": pg.postmaster()})
    meter.start()
    if updated_check:
        checks, secs, bad = one_pass(srv, *updated_check)
        if bad:
            pgrun.log("%s: %d answers neither 200 nor 304, the first: %s" % (name, len(bad),
                                                                             bad[0]))
    else:
        p = pgrun.wrk(srv.port, reqfile, pgrun.WRK_THREADS, pgrun.WRK_CONNS,
                      [0, pgrun.FLEET_MACS])
        out = p.communicate()[0]
        r = pgrun.parse_wrk(out)
        if not r:
            pgrun.die("wrk gave no result: " + out[-1000:])
        checks, secs = r["requests"], r["duration_us"] / 1e6
    srv.api("GET", "/devices?limit=1")  # an admin read waits for the writer to write all
    cpu = meter.stop()
    w1 = writer_ticks(srv.p.pid)
    b1 = batch_metrics(srv)
    wal = int(pg.sql(url, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '%s')" % lsn0).strip())
    stmts = []
    for line in pg.sql(url, STMTS).splitlines():
        calls, rows, ms, walb, q = line.split("\t", 4)
        stmts.append((int(calls), int(rows), float(ms), int(walb), q))
    dropped = srv.dropped() - d0
    updated = updated_events(pg, url) - u0
    nb, bs = b1[0] - b0[0], b1[1] - b0[1]
    x = {"name": name, "checks": checks, "rate": checks / secs,
         "dropped": dropped, "written": checks - dropped, "batches": nb, "batch_s": bs,
         "writer_s": (w1 - w0) / pgrun.HZ, "server_s": cpu["server"], "pg_s": cpu["postgresql"],
         "busy": cpu["_machine_busy"] / cpu["_machine_total"], "stmts": stmts,
         "updated": updated, "wal": wal}
    pgrun.log("%s: %d checks (%.0f/s), %d dropped, %d batches in %.1f s, writer %.1f s CPU, "
              "PostgreSQL %.1f s CPU, %d updated" % (
                  name, checks, x["rate"], dropped, nb, bs, x["writer_s"], x["pg_s"], updated))
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
         "CPU us / check | PostgreSQL CPU us / record | WAL bytes / record | machine busy |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in phases:
        w = x["written"] or 1
        L.append("| %s | %.0f | %d | %d | %d | %.0f | %.0f | %.1f | %.1f | %.1f | %.0f | %.0f%% |" % (
            x["name"], x["rate"], x["written"], x["dropped"], x["batches"],
            w / x["batches"] if x["batches"] else 0, w / x["batch_s"] if x["batch_s"] else 0,
            x["writer_s"] * 1e6 / w, x["server_s"] * 1e6 / max(x["checks"], 1),
            x["pg_s"] * 1e6 / w, x["wal"] / w, 100 * x["busy"]))
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
              "| calls | rows | ms | us / record written | share | WAL bytes / record written "
              "| statement |",
              "|---:|---:|---:|---:|---:|---:|---|"]
        for calls, rows, ms, walb, q in x["stmts"][:TOP]:
            L.append("| %d | %d | %.0f | %.2f | %.0f%% | %.0f | `%s` |" % (
                calls, rows, ms, ms * 1e3 / w, 100 * ms / tot, walb / w, q.replace("|", "\\|")))
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
        if os.environ.get("NO_MAC_TRGM"):  # what the MACs' trigram index costs
            pg.sql(url, "DROP INDEX IF EXISTS devices_mac_trgm")
        srv.api("POST", "/releases?version=2.0.0&channel=stable", raw=open(img, "rb").read(),
                ctype="application/octet-stream")
        reqfile = os.path.join(tmp, "check.req")
        md5 = hashlib.md5(open(img, "rb").read()).hexdigest()
        open(reqfile, "wb").write(pgrun.device_request(srv.port, "2.0.0", md5,
                                                       os.path.getsize(img)))
        phases = [phase("first-contact", pg, url, srv, reqfile)]
        for i in range(RUNS):
            phases.append(phase("routine-%d" % (i + 1), pg, url, srv, reqfile))
        # the wave's last steps: 3.0.0 (small: the offers' answers carry it) offered to
        # every device, then each device's check on it
        img3 = os.path.join(tmp, "app3.bin")
        pgrun.subprocess.run([pgrun.MK, "esp8266-app", img3, "4096", "9"], check=True,
                             capture_output=True)
        srv.api("POST", "/releases?version=3.0.0&channel=stable", raw=open(img3, "rb").read(),
                ctype="application/octet-stream")
        d0 = srv.dropped()
        n, _, bad = one_pass(srv, "2.0.0", md5, os.path.getsize(img), pace=1000)
        pgrun.log("offered 3.0.0 to %d devices: %d answers not 200 (%s), %d records dropped" % (
            n, len(bad), bad[:1], srv.dropped() - d0))
        md5_3 = hashlib.md5(open(img3, "rb").read()).hexdigest()
        phases.append(phase("updated", pg, url, srv,
                            updated_check=("3.0.0", md5_3, os.path.getsize(img3))))
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
