#!/usr/bin/env python3
"""What a routine check-in costs PostgreSQL to write (issue 13: the writer's cost), and
what each way of making it cheaper would save, on one throwaway cluster (bench/pg/run.py's
Cluster and settings). Writes bench/results/pg-rowcost.md.

A routine check-in (a device on its release, nothing but its times change) is, in the
writer's batch (src/server/store_pg.c), one row of Q_B_DEV_LOCK (read and lock the step's
rows) and one of Q_B_DEV_SEEN (the device's last-seen time). Here pgbench runs that pair
over DEVICES devices (the schema as `updraft serve` migrates it, put in each variant's
shape, rows filled with SQL), STEP rows per transaction as the writer's steps, for
DURATION seconds per variant:

  wide             schema 18: last_seen_ms a column of the wide devices row (indexed by
                   devices_seen_mac) and every check setting the row's change columns
                   (changed_xid, indexed by devices_changed): a new row version and an
                   entry in each of its 8 indexes per check
  wide-hot         the alternative to a table of its own: wide without devices_seen_mac
                   and devices_changed, change columns not set, fillfactor 80: nothing
                   indexed changes, so PostgreSQL can update the row in place (a HOT
                   update); the Devices page's order by last seen has no index then
  wide-hot-no-lock wide-hot without the FOR UPDATE read
  seen             schema 19 (what the server runs): the devices row read and locked
                   with its device_seen row, only the narrow device_seen row written
                   (last_seen_ms, seen_xid, seen_by; indexes: the MAC, last seen, seen_xid)
  seen-no-sync     seen without seen_xid's index (what other servers' device memories
                   read, devsync.c), to show its share
  seen-no-lock     seen with the devices rows read but not locked (FOR UPDATE)
  seen-lock-narrow seen-no-lock, the device_seen rows locked in MAC order instead (FOR NO
                   KEY UPDATE) before they are written
  seen-no-time     seen with the devices rows read and locked without their last-seen
                   time (the subquery on device_seen)
  first-two-versions  a new device's first check on its release (the read finds no row):
                   its devices row inserted, then updated for its running release (as
                   before 49b8630), and its device_seen row inserted (events not included)
  first-one-version   the same with the running release in the INSERT (49b8630)
  seen-no-read     seen without the read: the device_seen rows written alone (what a
                   writer that knew its devices' rows from the device memory would run)

For each: rows per second, PostgreSQL CPU microseconds per row (every process of the
cluster, /proc), WAL bytes per row (pg_current_wal_lsn), and the share of HOT updates
(pg_stat_user_tables). CPU and WAL per row carry over to another machine; the rates are
at the mercy of other jobs (the load average is in the results).

usage: bench/pg/rowcost.py
Settings (environment): DEVICES=10000 STEP=1000 DURATION=10 SKIP_BUILD=1 OUT=...
  VARIANTS=seen,seen-no-lock (only these; "CPU against" then compares with the first)
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
SERVER = "COALESCE(NULLIF(current_setting('updraft.server', true), ''), '0')::bigint"
# schema 18's Q_B_DEV_LOCK (its column list: every column) and Q_B_DEV_SEEN
WIDE_LOCK = ("SELECT count(*) FROM (SELECT * FROM devices WHERE mac=ANY(%s) ORDER BY mac COLLATE "
             "\"C\" FOR UPDATE) x;" % STEP_MACS)
CHANGED = ", changed_xid=pg_current_xact_id(), changed_by=" + SERVER
WIDE_SEEN = ("UPDATE devices d SET last_seen_ms=GREATEST(d.last_seen_ms, v.at), last_result=CASE "
             "WHEN v.ev IS NULL THEN d.last_result ELSE v.detail END, last_event_ms=COALESCE(v.ev, "
             "d.last_event_ms)%s FROM (SELECT m AS mac, " + NOW + " AS at, NULL::text AS detail, "
             "NULL::bigint AS ev FROM unnest(" + STEP_MACS + ") m) v WHERE d.mac=v.mac;")
# schema 19's (store_pg.c at this commit)
SEEN_LOCK = ("SELECT count(*) FROM (SELECT *, COALESCE((SELECT s.last_seen_ms FROM device_seen s "
             "WHERE s.mac=devices.mac), 0) FROM devices WHERE mac=ANY(%s) ORDER BY mac COLLATE "
             "\"C\" FOR UPDATE) x;" % STEP_MACS)
SEEN_SEEN = ("UPDATE device_seen s SET last_seen_ms=GREATEST(s.last_seen_ms, v.at), "
             "seen_xid=pg_current_xact_id(), seen_by=" + SERVER + " FROM (SELECT m AS mac, " + NOW +
             " AS at FROM unnest(" + STEP_MACS + ") m) v WHERE s.mac=v.mac;")
# what each shape adds to the migrated schema (either one: the script runs on both)
WIDE_SHAPE = [
    "DROP TABLE IF EXISTS device_seen",
    "ALTER TABLE devices ADD COLUMN IF NOT EXISTS last_seen_ms BIGINT NOT NULL DEFAULT 0",
    "CREATE INDEX IF NOT EXISTS devices_seen_mac ON devices(last_seen_ms, mac COLLATE \"C\") "
    "INCLUDE (family, version, tool, tags)",
    "CREATE INDEX IF NOT EXISTS devices_changed ON devices(changed_xid)",
    "ALTER TABLE devices RESET (fillfactor)",
]
HOT_SHAPE = WIDE_SHAPE + ["DROP INDEX devices_seen_mac", "DROP INDEX devices_changed",
                          "ALTER TABLE devices SET (fillfactor=80)"]
SEEN_SHAPE = [
    "ALTER TABLE devices DROP COLUMN IF EXISTS last_seen_ms",
    "CREATE INDEX IF NOT EXISTS devices_changed ON devices(changed_xid)",
    "ALTER TABLE devices RESET (fillfactor)",
    "CREATE TABLE IF NOT EXISTS device_seen(mac TEXT PRIMARY KEY, last_seen_ms BIGINT NOT NULL DEFAULT 0, seen_xid xid8 NOT NULL DEFAULT '0', "
    "seen_by BIGINT NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS device_seen_at ON device_seen(last_seen_ms, mac COLLATE \"C\")",
    "CREATE INDEX IF NOT EXISTS device_seen_xid ON device_seen(seen_xid)",
]
NOSYNC_SHAPE = SEEN_SHAPE + ["DROP INDEX device_seen_xid"]
# the read without the wide rows' lock; and with the narrow rows' lock in its place
SEEN_READ = SEEN_LOCK.replace(" FOR UPDATE", "")
SEEN_NO_TIME = ("SELECT count(*) FROM (SELECT * FROM devices WHERE mac=ANY(%s) ORDER BY mac "
                "COLLATE \"C\" FOR UPDATE) x;" % STEP_MACS)
SEEN_LOCK_NARROW = SEEN_READ + ("\nSELECT count(*) FROM (SELECT 1 FROM device_seen WHERE mac=ANY("
                                "%s) ORDER BY mac COLLATE \"C\" FOR NO KEY UPDATE) x;" % STEP_MACS)

# a new device's first check on its release (the step's read finds no row): its devices
# row inserted with its running release (store_pg.c at 49b8630), or inserted and then
# updated for it (before), and its device_seen row; the MACs are new ones (see main)
FIRST_INSERT = ("INSERT INTO devices AS d(mac, family, version, sketch_md5, first_seen_ms, "
                "last_result, tool, url_channel%s) SELECT m, 'esp8266', '2.0.0', "
                "'a43ad019932b627ab90ee35a94a764ee', " + NOW + ", 'check', '', ''%s FROM unnest("
                + STEP_MACS + ") m ON CONFLICT(mac) DO NOTHING;")
FIRST_SEEN = ("INSERT INTO device_seen AS s(mac, last_seen_ms) SELECT m, " + NOW + " FROM unnest("
              + STEP_MACS + ") m ON CONFLICT(mac) DO NOTHING;")
FIRST_RUNNING = ("UPDATE devices d SET running_release=1" + CHANGED + " FROM unnest(" + STEP_MACS +
                 ") AS v(mac) WHERE d.mac=v.mac;")
FIRST_TWO = "\n".join([SEEN_LOCK, FIRST_INSERT % ("", ""), FIRST_SEEN, FIRST_RUNNING])
FIRST_ONE = "\n".join([SEEN_LOCK, FIRST_INSERT % (", running_release", ", 1"), FIRST_SEEN])

# name, shape, the step's statements, whether last_seen_ms is a column of devices
VARIANTS = [
    ("wide", WIDE_SHAPE, WIDE_LOCK + "\n" + WIDE_SEEN % CHANGED, True),
    ("wide-hot", HOT_SHAPE, WIDE_LOCK + "\n" + WIDE_SEEN % "", True),
    ("wide-hot-no-lock", HOT_SHAPE, WIDE_SEEN % "", True),
    ("seen", SEEN_SHAPE, SEEN_LOCK + "\n" + SEEN_SEEN, False),
    ("seen-no-sync", NOSYNC_SHAPE, SEEN_LOCK + "\n" + SEEN_SEEN, False),
    ("seen-no-lock", SEEN_SHAPE, SEEN_READ + "\n" + SEEN_SEEN, False),
    ("seen-lock-narrow", SEEN_SHAPE, SEEN_LOCK_NARROW + "\n" + SEEN_SEEN, False),
    ("seen-no-read", SEEN_SHAPE, SEEN_SEEN, False),
    ("seen-no-time", SEEN_SHAPE, SEEN_NO_TIME + "\n" + SEEN_SEEN, False),
    ("first-two-versions", SEEN_SHAPE, FIRST_TWO, False),
    ("first-one-version", SEEN_SHAPE, FIRST_ONE, False),
]
if os.environ.get("VARIANTS"):  # e.g. VARIANTS=seen,seen-no-lock: only these
    VARIANTS = [v for v in VARIANTS if v[0] in os.environ["VARIANTS"].split(",")]
TABLES = ("devices", "device_seen")


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
        seen_table = cl.sql(url, "SELECT count(*) FROM pg_tables WHERE tablename='device_seen'"
                            ).strip() == "1"
        rows = []
        pgbench = os.path.join(cl.st["bindir"], "pgbench")
        script = os.path.join(tmp, "step.sql")
        for name, shape, stmts, wide in VARIANTS:
            cl.sql(url, "TRUNCATE devices")
            cl.sql(url, "DROP TABLE IF EXISTS device_seen")
            for q in shape:
                cl.sql(url, q)
            cl.sql(url, "INSERT INTO devices(mac, family, version, sketch_md5, first_seen_ms, "
                        "%stool, tags, last_result) SELECT %s, 'esp8266', '2.0.0', "
                        "'a43ad019932b627ab90ee35a94a764ee', 1, %s'', '', 'check' "
                        "FROM generate_series(0, %d) i" % ("last_seen_ms, " if wide else "", MAC,
                                                           "1, " if wide else "", DEVICES - 1))
            if not wide:
                cl.sql(url, "INSERT INTO device_seen(mac, last_seen_ms) SELECT mac, 1 FROM devices")
            cl.sql(url, "VACUUM ANALYZE")
            with open(script, "w") as f:
                if name.startswith("first"):  # new devices: MACs above the DEVICES known
                    f.write("\\set lo random(%d, %d) * %d\n" % (
                        DEVICES // STEP + 1, (1 << 24) // STEP - 1, STEP))
                else:
                    f.write("\\set lo random(0, %d) * %d\n" % (max(DEVICES // STEP - 1, 0),
                                                                  STEP))
                f.write("BEGIN;\n" + stmts + "\nCOMMIT;\n")
            cl.sql(url, "SELECT pg_stat_reset()")
            wal0 = int(cl.sql(url, "SELECT pg_current_wal_lsn() - '0/0'").strip())
            root = cl.postmaster()
            t0 = pgrun.group_ticks(root)
            b = subprocess.run([pgbench, "-n", "-f", script, "-T", str(DURATION), url],
                               capture_output=True, text=True)
            t1 = pgrun.group_ticks(root)
            wal1 = int(cl.sql(url, "SELECT pg_current_wal_lsn() - '0/0'").strip())
            time.sleep(0.6)  # the statistics collector
            upd, hotn = (int(x or 0) for x in cl.sql(
                url, "SELECT sum(n_tup_upd), sum(n_tup_hot_upd) FROM pg_stat_user_tables WHERE "
                     "relname IN ('devices', 'device_seen')").split())
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
             "| updraft | %s (the schema it migrates: %s indexes on `devices`%s) |" % (
                 commit, indexes, ", a `device_seen` table" if seen_table else ""),
             "| PostgreSQL | %s, %s |" % (cl.version, ", ".join(
                 "%s=%s" % kv for kv in pgrun.PG_SETTINGS.items())),
             "| load average before / after | %s / %s (other jobs share the machine) |" % (
                 " ".join(load_before), " ".join(load_after)),
             "| devices, rows per transaction, seconds per variant | %d, %d, %d |" % (
                 DEVICES, STEP, DURATION), "",
             "| variant | rows/s | PostgreSQL CPU us / row | WAL bytes / row | HOT updates | "
             "CPU against %s |" % base["name"], "|---|---:|---:|---:|---:|---:|"]
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
