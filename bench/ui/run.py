#!/usr/bin/env python3
"""The dashboard's API at fleet scale (issue 11): a registry of 100,000 devices and
1,000,000 events, and the latency of the calls behind the overview page (goal: each
< 100 ms) and a device page (goal: < 50 ms). A latency bench, not a ratio: the numbers
depend on the machine, which the results state. Writes bench/results/ui.md.

How the registry is filled: `updraft serve` (release build) creates its SQLite database
and takes three releases over the API; it is stopped, and the devices, their events and
7 days of hourly adoption snapshots are written straight into that database with
Python's sqlite3 in the server's own schema (a million events through the device
endpoint would take most of an hour here and measure the writer, not the API), then
ANALYZE: the statistics a server's PRAGMA optimize leaves when it stops. The server is
started again on it and every call is made ROUNDS times over one keep-alive
connection, after WARMUP calls; the table has the median, the 95th percentile and the
slowest.

The audit view (events of one kind across devices: `GET /api/v1/events?kind=K`,
`updraft events --kind K`) is measured with the index store migration 17 adds
(events_kind) and again with it dropped for the comparison (KIND_ROUNDS calls per row:
the plan of the build before it, which walks back through the events), then the index is
made again; the results have both, their ratio, the plans (EXPLAIN of the server's
statement) and the index's size.

BACKEND=pg: the same calls to a server on PostgreSQL (`updraft serve --db URL`), writes
bench/results/ui-pg.md. The registry is filled into SQLite as above (or taken from
BENCH_DATA) and moved into a throwaway PostgreSQL cluster (tests/server/pgcluster.py,
Unix socket only, the settings of bench/pg) with `updraft db migrate` (COPY, the same
rows with the same ids); then ANALYZE and VACUUM, which autovacuum does within minutes of
such a load (PG_ANALYZE=0 leaves them out: the database right after the move). The calls
are measured twice: so, and after every device row was updated once (as the writer does
for a device that checks: the worst case before autovacuum comes again).

usage: bench/ui/run.py [DEVICES [EVENTS]]   (cmake --preset release && cmake --build --preset release)
Settings (environment): UPDRAFT, MKIMAGE (binaries), ROUNDS (50), WARMUP (5),
BACKEND (sqlite or pg), KIND_ROUNDS (10), BENCH_RESULTS (default bench/results/ui.md,
ui-pg.md with BACKEND=pg; empty: print only), BENCH_DATA (a data directory: filled by the first run,
used as it is by the next ones, on either backend), PG_ANALYZE (1).
Python 3 standard library only (and Debian's postgresql for BACKEND=pg); loopback only."""
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))
import pgcluster  # noqa: E402

UPD = os.environ.get("UPDRAFT", os.path.join(ROOT, "build/release/src/cli/updraft"))
MK = os.environ.get("MKIMAGE", os.path.join(ROOT, "build/release/tests/cli/mkimage"))
NDEV = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
NEV = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
ROUNDS = int(os.environ.get("ROUNDS", "50"))
WARMUP = int(os.environ.get("WARMUP", "5"))
KIND_ROUNDS = int(os.environ.get("KIND_ROUNDS", "10"))
BACKEND = os.environ.get("BACKEND", "sqlite")
if BACKEND not in ("sqlite", "pg"):
    sys.exit("bench/ui: BACKEND=%s: give sqlite (the default) or pg" % BACKEND)
OUT = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "bench/results/%s.md" % (
    "ui" if BACKEND == "sqlite" else "ui-pg")))
PG_ANALYZE = os.environ.get("PG_ANALYZE", "1") != "0"
# bench/pg's cluster: durable (fsync, full pages), commits not waiting for their fsync
PG_SETTINGS = {"fsync": "on", "synchronous_commit": "off", "full_page_writes": "on",
               "shared_buffers": "128MB", "max_connections": "400"}
TOKEN = "bench-ui-token-0123456789"
HOUR = 3600 * 1000


def start(data, db=None):
    env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
    log = open(os.path.join(data + ".log"), "w+")
    p = subprocess.Popen([UPD, "serve", "--listen", "127.0.0.1:0", "--data", data] +
                         (["--db", db] if db else []), stdout=log, stderr=subprocess.STDOUT, env=env)
    for _ in range(300):
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return p, int(m.group(1))
        time.sleep(0.1)
    p.kill()
    sys.exit("bench/ui: the server did not start (see %s.log)" % data)


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(60)


class Client:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None, ctype="application/json"):
        hdrs = {"Authorization": "Bearer " + TOKEN}
        if body is not None:
            hdrs["Content-Type"] = ctype
        self.c.request(method, "/api/v1" + path, body=body, headers=hdrs)
        r = self.c.getresponse()
        data = r.read()
        if r.status >= 300:
            sys.exit("bench/ui: %s %s answered %d: %s" % (method, path, r.status, data[:300]))
        return json.loads(data or b"null"), len(data)


def releases(port, tmp):
    c = Client(port)
    ids = []
    for i, ver in enumerate(["1.0.0", "1.1.0", "1.2.0"]):
        f = os.path.join(tmp, "app-%s.bin" % ver)
        subprocess.run([MK, "esp8266-app", f, "250000", str(i + 1)], check=True)
        with open(f, "rb") as fh:
            j, _ = c.call("POST", "/releases?version=%s&channel=stable" % ver, fh.read(),
                          "application/octet-stream")
        ids.append((j["id"], ver, j["md5"]))
    return ids


def fill(db, rels):
    """NDEV devices (ESP8266 on three versions, ESP32 on two), NEV events spread over
    them and over 30 days, 7 days of hourly adoption snapshots."""
    rnd = random.Random(11)
    now = int(time.time() * 1000)
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    (r1, v1, m1), (r2, v2, m2), (r3, v3, m3) = rels
    devs = []
    for i in range(NDEV):
        mac = "5C:CF:%02X:%02X:%02X:%02X" % ((i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255,
                                             i & 255)
        esp32 = i % 5 == 4
        x = rnd.random()
        seen = now - int(rnd.random() * 20 * HOUR) if rnd.random() < 0.95 else \
            now - int((2 + rnd.random() * 20) * 24 * HOUR)
        if esp32:
            fam, ver, md5, free = "esp32", "2.%d.0" % (i % 2), "", 1966080
            last = "no release for esp32 devices on channel stable"
            running = 0
        elif x < 0.80:
            fam, ver, md5, free, running = "esp8266", v3, m3, 1695744, r3
            last = "up to date: runs release %d (version %s, file MD5)" % (r3, v3)
        elif x < 0.95:
            fam, ver, md5, free, running = "esp8266", v2, m2, 1695744, r2
            last = "up to date: runs release %d (version %s, file MD5)" % (r2, v2)
        else:  # no room for 1.2.0: declined, a problem
            fam, ver, md5, free, running = "esp8266", v1, m1, 4096, r1
            last = ("release %d (version %s) not offered: would fail -100 (Not Enough space)"
                    % (r3, v3))
        devs.append((mac, mac, fam, "15602487", "2.5.0", ver, 400000, md5 or None, None, free,
                     4194304, "sketch", "10.0.%d.%d" % ((i >> 8) & 255, i & 255),
                     "ESP8266-http-Update" if fam == "esp8266" else "ESP32-http-Update",
                     now - 40 * 24 * HOUR, seen, running, last, seen))
    con.executemany("INSERT INTO devices(mac, ap_mac, family, chip_id, sdk, version, "
                    "sketch_size, sketch_md5, sketch_sha256, free_space, chip_size, mode, ip, "
                    "user_agent, first_seen_ms, last_seen_ms, running_release, last_result, "
                    "last_event_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", devs)
    kinds = ["check", "check", "check", "offered", "download-started", "download-completed",
             "updated", "declined"]

    def events():
        for k in range(NEV):
            d = devs[rnd.randrange(NDEV)]
            kind = "failed" if k % 1000 == 999 else kinds[k % len(kinds)]  # a rare kind
            at = now - int(30 * 24 * HOUR * (NEV - k) / NEV)
            yield (at, d[0], kind, r3 if kind != "check" else None,
                   250000 if kind.startswith("download") else None, d[17])
    # tags: one device in 50 "lab", one in 1000 also "kitchen" (the search box's tags)
    con.execute("UPDATE devices SET tags='lab' WHERE rowid % 50 = 7")
    con.execute("UPDATE devices SET tags='kitchen,lab' WHERE rowid % 1000 = 7")
    con.executemany("INSERT INTO events(at_ms, mac, kind, release_id, bytes, detail) "
                    "VALUES(?,?,?,?,?,?)", events())
    rows = []
    for h in range(7 * 24, 0, -1):
        at = (now - h * HOUR) // HOUR * HOUR
        moved = min(1.0, (7 * 24 - h) / 72)  # 1.2.0 takes over in three days
        n8 = NDEV - NDEV // 5
        rows += [(at, "esp8266", v1, "", n8 // 20),
                 (at, "esp8266", v2, "", int((n8 - n8 // 20) * (1 - moved))),
                 (at, "esp8266", v3, "", n8 - n8 // 20 - int((n8 - n8 // 20) * (1 - moved))),
                 (at, "esp32", "2.0.0", "", NDEV // 10), (at, "esp32", "2.1.0", "", NDEV // 10)]
    con.executemany("INSERT INTO adoption(at_ms, platform, version, tool, devices) "
                    "VALUES(?,?,?,?,?)", rows)
    con.commit()
    # the planner's statistics, as a server's PRAGMA optimize leaves them when it stops
    # after reading the tables (without them the filtered pages get other, slower plans)
    con.execute("ANALYZE")
    busiest = con.execute("SELECT mac, count(*) n FROM events WHERE mac IS NOT NULL GROUP BY "
                          "mac ORDER BY n DESC LIMIT 1").fetchone()
    last_id = con.execute("SELECT max(id) FROM events").fetchone()[0]
    con.close()
    return busiest, last_id


class Postgres:
    """A throwaway cluster holding the registry of the SQLite data directory data, moved
    by `updraft db migrate`."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pg")
        if pgcluster.start(self.dir, PG_SETTINGS) != 0:
            sys.exit("bench/ui: cannot start a PostgreSQL cluster (tests/server/pgcluster.py)")
        self.st = json.load(open(os.path.join(self.dir, "state.json")))
        if "skip" in self.st:
            pgcluster.stop(self.dir)
            sys.exit("bench/ui: " + self.st["skip"])
        self.version = self.sql(self.st["url"], "SHOW server_version").strip()
        self.sql(self.st["url"], "CREATE DATABASE ui")
        self.url = self.st["url"].replace("/postgres?", "/ui?")

    def sql(self, url, q):
        exe = shutil.which("psql") or os.path.join(self.st["bindir"], "psql")
        p = subprocess.run([exe, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url,
                            "-c", q], capture_output=True, text=True)
        if p.returncode != 0:
            self.close()
            sys.exit("bench/ui: psql (%s): %s" % (q, p.stderr))
        return p.stdout

    def move(self, data):
        """(seconds of the migration, seconds of ANALYZE and VACUUM or None)."""
        t0 = time.time()
        p = subprocess.run([UPD, "db", "migrate", "--from", data, "--to", self.url],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.close()
            sys.exit("bench/ui: updraft db migrate failed: " + p.stdout + p.stderr)
        moved = time.time() - t0
        if not PG_ANALYZE:
            return moved, None
        t0 = time.time()
        # apart: the pages of a table copied in one transaction were left not all-visible
        # by one VACUUM ANALYZE of the database here (PostgreSQL 15), by these two not
        self.sql(self.url, "ANALYZE")
        self.sql(self.url, "VACUUM")
        return moved, time.time() - t0

    def mac_trgm(self):
        """Whether the server made the trigram index of the MACs (store_pg.c pg-migration
        3; not when the database's user may not add pg_trgm), which a MAC search reads."""
        return self.sql(self.url, "SELECT count(*) FROM pg_index WHERE indexrelid="
                        "to_regclass('devices_mac_trgm')").strip() == "1"

    def visible(self):
        """The share of the devices table's pages that are all-visible (what lets an index
        be read without its rows)."""
        self.sql(self.url, "CREATE EXTENSION IF NOT EXISTS pg_visibility")
        pages, vis = self.sql(self.url, "SELECT pg_relation_size('devices') / "
                              "current_setting('block_size')::int, all_visible FROM "
                              "pg_visibility_map_summary('devices')").strip().split("|")
        return int(vis) / max(1, int(pages))

    def churn(self):
        """Every device's last-seen time updated once, as the writer updates a device that
        checks (an indexed column: a new row version and index entries; in device_seen,
        store_pg.c migration 19, in the devices row before it), with autovacuum off for the
        table so that its state stays; seconds taken."""
        self.churned = "devices"
        if self.sql(self.url, "SELECT count(*) FROM pg_tables WHERE tablename='device_seen'"
                    ).strip() == "1":
            self.churned = "device_seen"
        t0 = time.time()
        self.sql(self.url, "ALTER TABLE %s SET (autovacuum_enabled=false)" % self.churned)
        self.sql(self.url, "UPDATE %s SET last_seen_ms=last_seen_ms+1" % self.churned)
        t = time.time() - t0
        # the first reader after the writer's commits marks the new rows as committed in
        # their pages (hint bits) once: done here, not in the first call measured
        self.sql(self.url, "SELECT count(ap_mac) FROM devices")  # every row: no index has it
        return t

    def size(self):
        return int(self.sql(self.url, "SELECT pg_database_size(current_database())"))

    def close(self):
        pgcluster.stop(self.dir)


def measure_all(c, groups):
    rows = []
    for group, goal, calls in groups:
        for name, path in calls:
            p50, p95, mx, size = measure(c, path)
            rows.append((group, name, path, p50, p95, mx, size, goal))
    return rows


def table(rows):
    lines = ["| page | call | median ms | p95 ms | max ms | bytes | goal |",
             "|---|---|---:|---:|---:|---:|---|"]
    for group, name, path, p50, p95, mx, size, goal in rows:
        g = "< %d ms: %s" % (goal, "met" if p95 < goal else "NOT met") if goal else ""
        lines.append("| %s | `GET /api/v1%s` %s | %.1f | %.1f | %.1f | %d | %s |"
                     % (group, path, name, p50, p95, mx, size, g))
    return lines


def measure(c, path, rounds=None, warmup=None):
    for _ in range(WARMUP if warmup is None else warmup):
        c.call("GET", path)
    t = []
    size = 0
    for _ in range(rounds or ROUNDS):
        t0 = time.perf_counter()
        _, size = c.call("GET", path)
        t.append((time.perf_counter() - t0) * 1000)
    t.sort()
    return t[len(t) // 2], t[min(len(t) - 1, int(len(t) * 0.95))], t[-1], size


# The server's statement for a kind's newest events (store_sqlite.c / store_pg.c
# Q_EV_LIST_KIND), with the values of the first kind row, for EXPLAIN.
KIND_SQL = ("SELECT id, at_ms, mac, kind, release_id, bytes, detail, actor, source FROM events "
            "WHERE kind='failed' AND id<9223372036854775807 ORDER BY id DESC LIMIT 50")
INDEX_SQL = {"sqlite": "CREATE INDEX events_kind ON events(kind)",  # migration 17, as it is
             "pg": "CREATE INDEX events_kind ON events(kind, id)"}


class KindIndex:
    """The events_kind index of the running server's database: its plan, its size,
    dropped and made again."""

    def __init__(self, db_file, pg):
        self.db_file, self.pg = db_file, pg

    def sql(self, q):
        if self.pg:
            return self.pg.sql(self.pg.url, q)
        con = sqlite3.connect(self.db_file, timeout=60)
        try:
            rows = con.execute(q).fetchall()
            con.commit()
        finally:
            con.close()
        return "\n".join("|".join(str(v) for v in r) for r in rows)

    def plan(self, generic=False):
        if self.pg and generic:  # the plan PostgreSQL may switch a prepared statement to
            q = ("SET plan_cache_mode = force_generic_plan; PREPARE k(text, bigint, bigint) AS " +
                 KIND_SQL.replace("'failed'", "$1").replace("9223372036854775807", "$2::bigint")
                 .replace("LIMIT 50", "LIMIT $3") +
                 "; EXPLAIN EXECUTE k('failed', 9223372036854775807, 50)")
            return " / ".join(line.strip() for line in self.sql(q).splitlines() if line.strip())
        if self.pg:  # planned for the call's values (a custom plan)
            return " / ".join(line.strip() for line in self.sql("EXPLAIN " + KIND_SQL).splitlines()
                              if line.strip())
        return " / ".join(r.split("|")[-1] for r in
                          self.sql("EXPLAIN QUERY PLAN " + KIND_SQL).splitlines())

    def size(self):
        if self.pg:
            return int(self.sql("SELECT pg_relation_size('events_kind')"))
        return int(self.sql("SELECT sum(pgsize) FROM dbstat WHERE name='events_kind'") or 0)

    def drop(self):
        self.sql("DROP INDEX events_kind")

    def make(self):
        t0 = time.time()
        self.sql(INDEX_SQL["pg" if self.pg else "sqlite"])
        return time.time() - t0


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    except OSError:
        pass
    return "%s, %d CPUs, %s RAM, %s %s" % (cpu, os.cpu_count() or 0, mem, platform.system(),
                                          platform.release())


def main():
    for b in (UPD, MK):
        if not os.access(b, os.X_OK):
            sys.exit("bench/ui: %s is missing: cmake --preset release && cmake --build "
                     "--preset release" % b)
    with tempfile.TemporaryDirectory(prefix="updraft-bench-ui-") as tmp:
        keep = os.environ.get("BENCH_DATA")  # a data directory filled by an earlier run
        data = keep or os.path.join(tmp, "data")
        fill_s = 0
        if keep and os.path.exists(os.path.join(keep, "updraft.db")):
            con = sqlite3.connect(os.path.join(keep, "updraft.db"))
            mac, nev_mac = con.execute("SELECT mac, count(*) n FROM events WHERE mac IS NOT "
                                       "NULL GROUP BY mac ORDER BY n DESC LIMIT 1").fetchone()
            last_id = con.execute("SELECT max(id) FROM events").fetchone()[0]
            con.close()
        else:
            p, port = start(data)
            try:
                rels = releases(port, tmp)
            finally:
                stop(p)
            t0 = time.time()
            (mac, nev_mac), last_id = fill(os.path.join(data, "updraft.db"), rels)
            fill_s = time.time() - t0
        pg = None
        db = None
        serve_data = data
        p = None
        try:
            if BACKEND == "pg":
                pg = Postgres(tmp)
                moved_s, analyze_s = pg.move(data)
                db = pg.url
                serve_data = os.path.join(tmp, "pg-server")  # the server's own files only
            p, port = start(serve_data, db)
            c = Client(port)
            # the dashboard's first call, as an operator opening it right after the start
            # makes it (no fresh=1): 202 "building" while the first reading is under way,
            # then the figures; the dashboard asks again after retry_ms
            t0 = time.perf_counter()
            first, _ = c.call("GET", "/overview")
            first_ms = (time.perf_counter() - t0) * 1000
            first_building = first.get("building") is True
            first_read = first.get("devices_read")
            while first.get("building") is True:
                time.sleep(first["retry_ms"] / 1000)
                first, _ = c.call("GET", "/overview")
            figures_ms = (time.perf_counter() - t0) * 1000
            first, _ = c.call("GET", "/overview?fresh=1")
            eq_total = first["devices"]["total"]
            if eq_total != NDEV:
                sys.exit("bench/ui: the overview counts %d devices, not %d" % (eq_total, NDEV))
            scans = [c.call("GET", "/overview?fresh=1")[0]["scan_ms"] for _ in range(5)]
            scans.sort()
            q = urllib.parse.quote
            overview = [
                ("overview", "/overview"),
                ("adoption, hourly, 7 days", "/adoption?bucket=hour"),
                ("adoption, daily, esp8266", "/adoption?bucket=day&platform=esp8266"),
                ("problems", "/problems"),
                ("events, newest 20", "/events?limit=20"),
            ]
            device = [
                ("device %s (%d events, history 100)" % (mac, nev_mac), "/devices/" + q(mac)),
                ("its events, newest 50", "/events?mac=%s&limit=50" % q(mac)),
            ]
            # pages at the same place in a smaller fleet (page 1001 of 100,000 devices)
            def page(off):
                return max(1, off * NDEV // 100000 // 50) * 50

            mid, ver, lab = page(50000), page(5000), page(500)
            # the cursor of page mid, as the page before it answers it
            cursor = c.call("GET", "/devices?limit=50&offset=%d" % (mid - 50))[0]["next"]
            devices = [
                ("first page of 50", "/devices?limit=50"),
                ("page %d by offset" % (mid // 50 + 1), "/devices?limit=50&offset=%d" % mid),
                ("page %d by cursor (the dashboard's Next)" % (mid // 50 + 1),
                 "/devices?limit=50&after=" + cursor),
                ("filter version=1.1.0, first page", "/devices?limit=50&filter=" +
                 q("version=1.1.0")),
                ("filter version=1.1.0, page %d" % (ver // 50 + 1),
                 "/devices?limit=50&offset=%d&filter=%s" % (ver, q("version=1.1.0"))),
                ("filter version<1.2.0 platform=esp8266 seen<24h", "/devices?limit=50&filter=" +
                 q("version<1.2.0 platform=esp8266 seen<24h")),
                ("search a part of a MAC", "/devices?limit=50&filter=" + q("mac~0a1b")),
                ("search a part of a tag", "/devices?limit=50&filter=" + q("tag~kitch")),
                ("tag=lab (2 %% of the fleet), page %d" % (lab // 50 + 1),
                 "/devices?limit=50&offset=%d&filter=%s" % (lab, q("tag=lab"))),
                ("sort=version, page %d" % (mid // 50 + 1),
                 "/devices?limit=50&offset=%d&sort=version" % mid),
                ("sort=-mac, page %d" % (mid // 50 + 1),
                 "/devices?limit=50&offset=%d&sort=-mac" % mid),
            ]
            other = [
                ("event tail after the newest 100", "/events?after=%d" % (last_id - 100)),
            ]
            mid_id = last_id // 2
            audit = [
                ("kind=check (3 events in 8), newest 50", "/events?kind=check&limit=50"),
                ("kind=failed (1 in 1000), newest 50", "/events?kind=failed&limit=50"),
                ("kind=failed, 50 before the middle",
                 "/events?kind=failed&limit=50&before=%d" % mid_id),
                ("kind=failed, the tail after the middle (100)",
                 "/events?kind=failed&after=%d" % mid_id),
                ("kind=rollout-paused (none), newest 50", "/events?kind=rollout-paused&limit=50"),
            ]
            groups = (("overview page", 100, overview), ("device page", 50, device),
                      ("devices page", 100, devices), ("other", None, other),
                      ("audit view", 100, audit))
            rows = measure_all(c, groups)
            # the audit view without events_kind (the build before migration 17), then
            # the index made again (BENCH_DATA keeps a database the schema describes)
            kidx = KindIndex(os.path.join(data, "updraft.db"), pg)
            kind_plan, kind_size = kidx.plan(), kidx.size()
            kind_generic = kidx.plan(generic=True) if pg else None
            kidx.drop()
            kind_plan_without = kidx.plan()
            without = {}
            try:
                for name, path in audit:
                    without[path] = measure(c, path, KIND_ROUNDS, 1)
            finally:
                kind_make_s = kidx.make()
            if pg:
                trgm = pg.mac_trgm()
                visible = [pg.visible()]
                churn_s = pg.churn()
                visible.append(pg.visible())
                churned = measure_all(c, groups)
            load = open("/proc/loadavg").read().split()[:3]
        finally:
            if p:
                stop(p)
            if pg:
                db_bytes = pg.size()
                pg.close()
    rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    ver = subprocess.run([UPD, "--version"], capture_output=True, text=True).stdout.strip()
    lines = ["# Dashboard API at fleet scale" + (" on PostgreSQL" if pg else ""), "",
             "Written by `bench/ui/run.py` (method in its header and docs/benchmarks.md).",
             "Do not edit by hand: run the script again.", "",
             "| | |", "|---|---|",
             "| date | %s |" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             ("| updraft | %s, %s (release build) |" % (rev, ver)
              if "UPDRAFT" not in os.environ else
              "| updraft | the binary UPDRAFT=%s (%s), not necessarily built from this "
              "checkout (%s): its commit is the one the run's commit message names |"
              % (UPD, ver, rev)),
             "| machine | %s |" % machine(),
             "| load average after | %s (other jobs share the machine) |" % " ".join(load),
             "| registry | %d devices, %d events, 7 days of hourly adoption snapshots "
             "(%s) |" % (NDEV, NEV, "filled in %.0f s" % fill_s if fill_s else
                         "filled by an earlier run: BENCH_DATA"),
             ] + ([
                 "| database | PostgreSQL %s, a throwaway cluster (tests/server/pgcluster.py) "
                 "on a Unix socket; %s; %.0f MB |" % (
                     pg.version, ", ".join("%s=%s" % kv for kv in PG_SETTINGS.items()),
                     db_bytes / 1e6),
                 "| moved into it | by `updraft db migrate` in %.0f s; %s |" % (
                     moved_s, "then ANALYZE and VACUUM in %.0f s (what autovacuum does "
                     "within minutes)" % analyze_s if analyze_s is not None else
                     "not analyzed nor vacuumed (PG_ANALYZE=0: the database right after the "
                     "move)"),
                 "| MACs' trigram index | %s |" % (
                     "devices_mac_trgm (pg-migrations 3 and 4): a MAC search reads it" if trgm else
                     "none (the updraft before pg-migration 3, or pg_trgm not available to "
                     "its user): a MAC search reads every MAC"),
             ] if pg else []) + [
             "| calls | %d per row over one keep-alive connection, after %d warm-up calls |"
             % (ROUNDS, WARMUP),
             "| first overview after start | %.0f ms (%s) |" % (
                 first_ms, "202 building: %s devices read so far; the dashboard asks again "
                 "after retry_ms" % first_read if first_building else
                 "200: the first reading was done"),
             "| first figures after start | %.0f ms (asking again after retry_ms until the "
             "first reading is done) |" % figures_ms,
             "| one reading of the registry | %d ms median of 5 (`scan_ms`; off the "
             "request path, at most every 10 s while someone asks) |" % scans[2],
             ""]
    if pg:
        lines += ["## After ANALYZE and VACUUM", "",
                  "%.0f %% of the devices table's pages all-visible (an index is read without "
                  "its rows there)." % (100 * visible[0]), ""]
    lines += table(rows)
    if pg:
        lines += ["", "## Every device row updated since", "",
                  "The worst case before autovacuum comes: every device checked once since "
                  "the last vacuum (`UPDATE %s SET last_seen_ms=last_seen_ms+1`, %.0f s, "
                  "autovacuum off for the table: each of its rows twice in the table and its "
                  "indexes); %.0f %% of the devices table's pages all-visible." % (
                      pg.churned, churn_s, 100 * visible[1]), ""]
        lines += table(churned)
    lines += ["", "Goal judged on the 95th percentile. The overview's figures come from "
              "memory (fleet.c); the device page is one device row and its newest 100 "
              "events (indexed by MAC); the Devices table's pages are SQL over the indexes of "
              "store migration 16 (src/server/devpage.c, devquery.c, store_devsql.c)%s." % (
                  "; on PostgreSQL also device_seen's time index (store migration 19) and the "
                  "MACs' trigram index (pg-migration 3)" if pg else "")]
    lines += ["", "## The audit view with and without the events_kind index", "",
              "The calls of the audit view again with events_kind dropped (%d calls each, "
              "after one; the server and its statements unchanged: the plan is that of the "
              "build before store migration 17), then the index made again in %.1f s. "
              "Index size: %.1f MB (%.0f bytes per event)." % (
                  KIND_ROUNDS, kind_make_s, kind_size / 1e6, kind_size / max(1, NEV)), "",
              "| call | with: median ms | with: p95 ms | without: median ms | without: p95 ms "
              "| without / with (medians) |", "|---|---:|---:|---:|---:|---:|"]
    for group, name, path, p50, p95, mx, size, goal in rows:
        if path in without:
            w50, w95 = without[path][0], without[path][1]
            lines.append("| `GET /api/v1%s` %s | %.1f | %.1f | %.1f | %.1f | %.1fx |"
                         % (path, name, p50, p95, w50, w95, w50 / p50 if p50 else 0))
    lines += ["", "The plan of the server's statement for a kind's newest 50 (%s of "
              "`%s`):" % ("EXPLAIN" if pg else "EXPLAIN QUERY PLAN", KIND_SQL), "",
              "- with events_kind: `%s`" % kind_plan,
              "- without: `%s`" % kind_plan_without]
    if pg:
        lines += ["", "PostgreSQL plans a prepared statement's first five calls for their "
                  "values (the plans above), then keeps doing so while the generic plan is "
                  "estimated dearer than those; the generic plan with events_kind (EXPLAIN "
                  "EXECUTE under plan_cache_mode=force_generic_plan, the limit unknown to it): "
                  "`%s`. The times above are the server's own calls." % kind_generic]
    lines += ["", "The same calls on PostgreSQL: bench/results/ui-pg.md (`BACKEND=pg "
              "bench/ui/run.py`)." if not pg else "The same calls on SQLite: "
              "bench/results/ui.md (`bench/ui/run.py`)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if OUT:
        with open(OUT, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
