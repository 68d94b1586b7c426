#!/usr/bin/env python3
"""What a routine check-in costs PostgreSQL to write (issue 13: the writer's cost), and
what each way of making it cheaper would save, on one throwaway cluster (bench/pg/run.py's
Cluster and settings). Writes bench/results/pg-rowcost.md.

A routine check-in (a device on its release, nothing but its times change) is, in the
writer's batch (src/server/store_pg.c), one row of Q_B_DEV_LOCK (read and lock the step's
rows) and one of Q_B_DEV_SEEN (last_seen_ms, last_result, last_event_ms and the change
columns of migration 18). Here pgbench runs that pair over DEVICES devices (the schema
as `updraft serve` migrates it, rows filled with SQL), STEP rows per transaction as the
writer's steps, for DURATION seconds per variant:

  today            the two statements as the writer runs them
  no-lock          the UPDATE alone (no FOR UPDATE read)
  no-change-cols   both, the UPDATE without changed_xid/changed_by
  hot              no-change-cols with devices_seen_mac and devices_changed dropped and
                   fillfactor 80: nothing indexed changes, so PostgreSQL can update the
                   row in place (a HOT update: no new index entries)
  hot-no-lock      hot without the FOR UPDATE read

For each: rows per second, PostgreSQL CPU microseconds per row (every process of the
cluster, /proc), WAL bytes per row (pg_current_wal_lsn), and the share of HOT updates
(pg_stat_user_tables). CPU and WAL per row carry over to another machine; the rates are
at the mercy of other jobs (the load average is in the results).

usage: bench/pg/rowcost.py
Settings (environment): DEVICES=10000 STEP=1000 DURATION=10 SKIP_BUILD=1 OUT=...
Needs: PostgreSQL with pgbench (Debian postgresql), a release build."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as pgrun  # noqa: E402  (bench/pg/run.py: the cluster, /proc CPU time)

ROOT = pgrun.ROOT
DEVICES = int(os.environ.get("DEVICES", "10000"))
STEP = int(os.environ.get("STEP", "1000"))
DURATION = int(os.environ.get("DURATION", "10"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "bench/results/pg-rowcost.md"))

MAC = ("'5C:CF:7F:' || lpad(to_hex((i>>16)&255),2,'0') || ':' || lpad(to_hex((i>>8)&255),2,'0')"
       " || ':' || lpad(to_hex(i&255),2,'0')")
STEP_MACS = "ARRAY(SELECT %s FROM generate_series(:lo, :lo + %d) i)" % (MAC, STEP - 1)
NOW = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
# store_pg.c Q_B_DEV_LOCK (its column list: every column) and Q_B_DEV_SEEN at this commit
LOCK = ("SELECT count(*) FROM (SELECT * FROM devices WHERE mac=ANY(%s) ORDER BY mac COLLATE "
        "\"C\" FOR UPDATE) x;" % STEP_MACS)
CHANGED = (", changed_xid=pg_current_xact_id(), changed_by=COALESCE(NULLIF(current_setting("
           "'updraft.server', true), ''), '0')::bigint")
SEEN = ("UPDATE devices d SET last_seen_ms=GREATEST(d.last_seen_ms, v.at), last_result=CASE WHEN "
        "v.ev IS NULL THEN d.last_result ELSE v.detail END, last_event_ms=COALESCE(v.ev, "
        "d.last_event_ms)%s FROM (SELECT m AS mac, " + NOW + " AS at, NULL::text AS detail, "
        "NULL::bigint AS ev FROM unnest(" + STEP_MACS + ") m) v WHERE d.mac=v.mac;")

VARIANTS = [
    ("today", True, True, False),
    ("no-lock", False, True, False),
    ("no-change-cols", True, False, False),
    ("hot", True, False, True),
    ("hot-no-lock", False, False, True),
]


def main():
    if not os.path.exists(pgrun.UPD):
        pgrun.die("no release build at %s (cmake --preset release && cmake --build --preset "
                  "release)" % pgrun.UPD)
    tmp = tempfile.mkdtemp(prefix="updraft-rowcost-")
    load_before = open("/proc/loadavg").read().split()[:3]
    cl = pgrun.Cluster(tmp)
    try:
        url = cl.database("rowcost")
        # the schema as the server makes it
        p = subprocess.Popen([pgrun.UPD, "serve", "--listen", "127.0.0.1:0", "--data",
                              os.path.join(tmp, "data"), "--db", url],
                             env=dict(os.environ, UPDRAFT_ADMIN_TOKEN=pgrun.TOKEN),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            if cl.sql(url, "SELECT count(*) FROM pg_tables WHERE tablename='devices'").strip() \
                    == "1":
                break
            time.sleep(0.1)
        time.sleep(1)
        p.terminate()
        p.wait(timeout=30)
        indexes = cl.sql(url, "SELECT count(*) FROM pg_indexes WHERE tablename='devices'").strip()
        rows = []
        pgbench = os.path.join(cl.st["bindir"], "pgbench")
        script = os.path.join(tmp, "step.sql")
        for name, lock, changed, hot in VARIANTS:
            cl.sql(url, "DROP TABLE IF EXISTS devices_fill")
            cl.sql(url, "TRUNCATE devices")
            if hot:
                cl.sql(url, "DROP INDEX IF EXISTS devices_seen_mac")
                cl.sql(url, "DROP INDEX IF EXISTS devices_changed")
                cl.sql(url, "ALTER TABLE devices SET (fillfactor=80)")
            cl.sql(url, "INSERT INTO devices(mac, family, version, sketch_md5, first_seen_ms, "
                        "last_seen_ms, tool, tags, last_result) SELECT " + MAC + ", 'esp8266', "
                        "'2.0.0', 'a43ad019932b627ab90ee35a94a764ee', 1, 1, '', '', 'check' "
                        "FROM generate_series(0, %d) i" % (DEVICES - 1))
            cl.sql(url, "VACUUM ANALYZE devices")
            with open(script, "w") as f:
                f.write("\\set lo random(0, %d) * %d\n" % (max(DEVICES // STEP - 1, 0), STEP))
                f.write("BEGIN;\n" + (LOCK + "\n" if lock else "") +
                        (SEEN % (CHANGED if changed else "")) + "\nCOMMIT;\n")
            cl.sql(url, "SELECT pg_stat_reset()")
            wal0 = int(cl.sql(url, "SELECT pg_current_wal_lsn() - '0/0'").strip())
            root = cl.postmaster()
            t0 = pgrun.group_ticks(root)
            b = subprocess.run([pgbench, "-n", "-f", script, "-T", str(DURATION), url],
                               capture_output=True, text=True)
            t1 = pgrun.group_ticks(root)
            wal1 = int(cl.sql(url, "SELECT pg_current_wal_lsn() - '0/0'").strip())
            time.sleep(0.6)  # the statistics collector
            upd, hotn = (int(x) for x in cl.sql(
                url, "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE "
                     "relname='devices'").split())
            tx = [line for line in b.stdout.splitlines()
                  if line.startswith("number of transactions actually processed")]
            if b.returncode != 0 or not tx:
                pgrun.die("pgbench (%s): %s%s" % (name, b.stdout[-500:], b.stderr[-500:]))
            n = int(tx[0].split(":")[1].split("/")[0]) * STEP
            ticks = sum(t1.get(k, 0) - t0.get(k, 0) for k in t1)
            rows.append({"name": name, "rate": n / DURATION, "cpu_us": ticks / pgrun.HZ / n * 1e6,
                         "wal": (wal1 - wal0) / n, "hot": hotn / upd if upd else 0.0})
            pgrun.log("%s: %.0f rows/s, %.1f us PostgreSQL CPU a row, %.0f WAL bytes a row, "
                      "%.0f%% HOT" % (name, rows[-1]["rate"], rows[-1]["cpu_us"],
                                      rows[-1]["wal"], 100 * rows[-1]["hot"]))
        load_after = open("/proc/loadavg").read().split()[:3]
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        base = rows[0]
        L = ["# What a routine check-in costs PostgreSQL to write", "",
             "Written by `bench/pg/rowcost.py` (method in its header). Do not edit by hand: "
             "run it again.", "",
             "| | |", "|---|---|",
             "| date | %s |" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "| updraft | %s (the schema it migrates: %s indexes on `devices`) |" % (commit,
                                                                                  indexes),
             "| PostgreSQL | %s, %s |" % (cl.version, ", ".join(
                 "%s=%s" % kv for kv in pgrun.PG_SETTINGS.items())),
             "| load average before / after | %s / %s (other jobs share the machine) |" % (
                 " ".join(load_before), " ".join(load_after)),
             "| devices, rows per transaction, seconds per variant | %d, %d, %d |" % (
                 DEVICES, STEP, DURATION), "",
             "| variant | rows/s | PostgreSQL CPU us / row | WAL bytes / row | HOT updates | "
             "CPU against today |", "|---|---:|---:|---:|---:|---:|"]
        for r in rows:
            L.append("| %s | %.0f | %.1f | %.0f | %.0f%% | %.2fx |" % (
                r["name"], r["rate"], r["cpu_us"], r["wal"], 100 * r["hot"],
                r["cpu_us"] / base["cpu_us"] if base["cpu_us"] else 0))
        L.append("")
        os.makedirs(os.path.dirname(OUT), exist_ok=True)
        open(OUT, "w").write("\n".join(L))
        pgrun.log("wrote " + OUT)
    finally:
        cl.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
