#!/usr/bin/env python3
"""The PostgreSQL store at fleet scale (issue 13), on a throwaway cluster of its own
(tests/server/pgcluster.py: initdb + pg_ctl in a temporary directory, Unix socket only).
Writes bench/results/pgstore.md. Three measurements:

1. The writer's batch after an outage: 8,192 device records held while PostgreSQL was
   stopped (pg_ctl stop -m fast), written in one batch when it is started again. Records
   per second of that batch (the server's own updraft_store_seconds{op="batch"}), of this
   build and of BEFORE (another updraft binary: the build before a change), in the same
   run, alternating; two kinds of batch: known devices checking again (their rows hold
   the facts: an UPDATE each) and new devices (an upsert and an event each). Both
   binaries must leave the same rows (counted after each run).
2. A device's events at 1,000,000 events (100,000 devices, written with SQL straight into
   the server's schema): GET /api/v1/events?mac=M&limit=50 and the device page, ROUNDS
   calls after WARMUP (past PostgreSQL's switch to a generic plan after five executions of
   a prepared statement), median / p95 / max; goal p95 < 50 ms. Then the plans the server's
   statements get, from PostgreSQL's auto_explain.
3. The idle server at 100,000 devices: CPU per second (the server process, and the
   cluster's processes) over IDLE seconds without a single request, with no rollout and
   with a running rollout whose 100,000 devices all have a state (the once-a-second
   read-back of rollouts, store.h leads).

usage: bench/pgstore/run.py     (cmake --preset release && cmake --build --preset release)
Settings (environment): UPDRAFT (default build/release/src/cli/updraft), BEFORE (an
older updraft binary to compare with; default none: only this build), MKIMAGE,
ROUNDS (50), WARMUP (10), IDLE (65 s: more than the minute between two reads of
every rollout device's state), BENCH_RESULTS (default bench/results/pgstore.md; empty:
print only), PARTS (default batch,events,idle; results are written only when all run). Python 3 standard library and Debian's postgresql; loopback only."""
import http.client
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))
import pgcluster  # noqa: E402

UPD = os.environ.get("UPDRAFT", os.path.join(ROOT, "build/release/src/cli/updraft"))
BEFORE = os.environ.get("BEFORE", "")
MK = os.environ.get("MKIMAGE", os.path.join(ROOT, "build/release/tests/cli/mkimage"))
ROUNDS = int(os.environ.get("ROUNDS", "50"))
WARMUP = int(os.environ.get("WARMUP", "10"))
IDLE = int(os.environ.get("IDLE", "65"))  # > 60 s: includes a whole read-back
PARTS = os.environ.get("PARTS", "batch,events,idle").split(",")
OUT = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "bench/results/pgstore.md"))
TOKEN = "bench-pg-token-0123456789"
BATCH = 8192
NDEV = 100000
NEV = 1000000
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("bench/pgstore: " + msg, flush=True)


class Cluster:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "cluster")
        if pgcluster.start(self.dir) != 0:
            sys.exit("bench/pgstore: cannot start a PostgreSQL cluster")
        os.environ["UPDRAFT_TEST_PG"] = self.dir
        self.st = pgcluster.state()
        if self.st is None:
            sys.exit("bench/pgstore: PostgreSQL is not installed (scripts/install-deps.sh)")

    def ctl(self, *args):
        st = self.st
        subprocess.run(pgcluster.as_user([os.path.join(st["bindir"], "pg_ctl"), "-D", st["data"],
                                          "-w", "-t", "60"] + list(args), st["user"]),
                       check=True, capture_output=True, cwd=st["root"])

    def stop_db(self):
        self.ctl("-m", "fast", "stop")

    def start_db(self):
        opts = ("-c listen_addresses='' -c unix_socket_directories=%s -p %d -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400 "
                "-c shared_buffers=64MB" % (self.st["root"], self.st["port"]))
        self.ctl("-l", os.path.join(self.st["root"], "log"), "-o", opts, "start")

    def database(self, name):
        pgcluster.psql(self.st["url"], "DROP DATABASE IF EXISTS %s" % name)
        pgcluster.psql(self.st["url"], "CREATE DATABASE %s" % name)
        return self.st["url"].replace("/postgres?", "/%s?" % name)

    def pids(self):
        """The postmaster and its children (backends, checkpointer, ...)."""
        pm = int(open(os.path.join(self.st["data"], "postmaster.pid")).readline())
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pm)], capture_output=True,
                             text=True).stdout.split()
        return [pm] + [int(x) for x in out]

    def close(self):
        pgcluster.stop(self.dir)


class Server:
    def __init__(self, binary, url, tmp, name):
        self.data = os.path.join(tmp, name)
        os.makedirs(self.data, exist_ok=True)
        env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
        self.logf = open(self.data + ".log", "w+")
        self.p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data",
                                   self.data, "--db", url], stdout=self.logf,
                                  stderr=subprocess.STDOUT, env=env)
        for _ in range(600):
            self.logf.seek(0)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.logf.read())
            if m:
                self.port = int(m.group(1))
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        self.p.kill()
        sys.exit("bench/pgstore: the server did not start (see %s.log)" % self.data)

    def call(self, method, path, body=None, ctype="application/json"):
        hdrs = {"Authorization": "Bearer " + TOKEN}
        if body is not None:
            hdrs["Content-Type"] = ctype
        self.c.request(method, path, body=body, headers=hdrs)
        r = self.c.getresponse()
        data = r.read()
        if r.status >= 300:
            sys.exit("bench/pgstore: %s %s answered %d: %s" % (method, path, r.status, data[:300]))
        return data

    def metric(self, name):
        body = self.call("GET", "/metrics").decode()
        m = re.search(r"^%s (\S+)$" % re.escape(name), body, re.M)
        return float(m.group(1)) if m else None

    def sim(self, *args):
        p = subprocess.run([self.binary_of_sim(), "sim", "--server",
                            "http://127.0.0.1:%d/update" % self.port, "--quiet", "--json",
                            "--max-checks", "1", "--retry-ms", "50"] + list(args),
                           capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            sys.exit("bench/pgstore: updraft sim failed: %s %s" % (p.stdout[-300:], p.stderr[-300:]))

    @staticmethod
    def binary_of_sim():
        return UPD  # the same devices for both servers

    def cpu_ticks(self):
        f = open("/proc/%d/stat" % self.p.pid).read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.logf.close()


def ticks_of(pids):
    n = 0
    for pid in pids:
        try:
            f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            n += int(f[11]) + int(f[12])
        except OSError:
            pass
    return n


def count(url, table):
    return int(pgcluster.psql(url, "SELECT count(*) FROM %s" % table).strip())


def batch_seconds(srv):
    body = srv.call("GET", "/metrics").decode()
    s = re.search(r'^updraft_store_seconds_sum\{op="batch"\} (\S+)$', body, re.M)
    n = re.search(r'^updraft_store_seconds_count\{op="batch"\} (\S+)$', body, re.M)
    return float(s.group(1)), int(float(n.group(1)))


def wait(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    sys.exit("bench/pgstore: timed out waiting for %s" % what)


def held_batch(cl, srv, url, mac_start):
    """BATCH devices from mac_start check once while PostgreSQL is stopped; it starts
    again and the writer writes the held records: seconds of that batch."""
    cl.stop_db()
    srv.sim("--devices", str(BATCH), "--mac-start", str(mac_start))
    wait(lambda: srv.metric("updraft_held_records") == BATCH, 120, "%d held records" % BATCH)
    s0, n0 = batch_seconds(srv)
    cl.start_db()
    wait(lambda: srv.metric("updraft_held_records") == 0, 900, "the held records written")
    s1, n1 = batch_seconds(srv)
    if srv.metric("updraft_dropped_records_total"):
        sys.exit("bench/pgstore: records were dropped")
    return s1 - s0


def bench_batch(cl, tmp):
    """Part 1: rows (binary name -> {kind: [records/s...]}), and the rows each left."""
    bins = [("this build", UPD)] + ([("before", BEFORE)] if BEFORE else [])
    res = {name: {"known": [], "new": []} for name, _ in bins}
    left = {}
    for rnd in range(2):
        for name, binary in (bins if rnd % 2 == 0 else list(reversed(bins))):
            url = cl.database("batch_%d_%s" % (rnd, "a" if binary == UPD else "b"))
            srv = Server(binary, url, tmp, "batch-%d-%s" % (rnd, name.replace(" ", "")))
            try:
                srv.sim("--devices", str(BATCH))  # the devices exist
                wait(lambda: count(url, "devices") == BATCH, 300, "the devices written")
                t = held_batch(cl, srv, url, 1)
                res[name]["known"].append(BATCH / t)
                log("%s, round %d: known devices: %.0f records/s" % (name, rnd, BATCH / t))
                t = held_batch(cl, srv, url, 100000)
                res[name]["new"].append(BATCH / t)
                log("%s, round %d: new devices: %.0f records/s" % (name, rnd, BATCH / t))
                left[(name, rnd)] = (count(url, "devices"), count(url, "events"))
            finally:
                srv.stop()
    return res, left


FILL = """
INSERT INTO releases(version, platform, mode, kind, md5, sha256, size, created_ms)
  SELECT '1.' || g || '.0', 'esp8266', 'sketch', 'esp8266-arduino', md5(g::text),
         md5(g::text) || md5(g::text), 300000, {now} FROM generate_series(1, 3) g
  ON CONFLICT DO NOTHING;
INSERT INTO devices(mac, ap_mac, family, chip_id, sdk, version, sketch_size, sketch_md5,
                    free_space, chip_size, mode, ip, user_agent, first_seen_ms,
                    last_result, last_event_ms)
  SELECT m, m, 'esp8266', '15602487', '2.5.0', '1.2.0', 400000, md5('3'), 1695744, 4194304,
         'sketch', '10.0.0.1', 'ESP8266-http-Update', {now} - 3456000000,
         'up to date', {now} - (g * 719 % 72000000)
  FROM (SELECT g, '5C:CF:7F:' || upper(lpad(to_hex((g >> 16) & 255), 2, '0') || ':' ||
               lpad(to_hex((g >> 8) & 255), 2, '0') || ':' || lpad(to_hex(g & 255), 2, '0')) m
        FROM generate_series(1::bigint, {ndev}) g) d;
-- last seen when last written: device_seen from schema 19 on (store_pg.c), the devices
-- row before (BEFORE= an older build)
DO $$ BEGIN
  IF to_regclass('device_seen') IS NOT NULL THEN
    INSERT INTO device_seen(mac, last_seen_ms) SELECT mac, last_event_ms FROM devices
      ON CONFLICT (mac) DO UPDATE SET last_seen_ms=excluded.last_seen_ms;
  ELSE
    EXECUTE 'UPDATE devices SET last_seen_ms=last_event_ms';
  END IF;
END $$;
INSERT INTO events(at_ms, mac, kind, release_id, bytes, detail)
  SELECT {now} - ({nev} - g) * 2592, '5C:CF:7F:' || upper(lpad(to_hex((d >> 16) & 255), 2, '0')
         || ':' || lpad(to_hex((d >> 8) & 255), 2, '0') || ':' || lpad(to_hex(d & 255), 2, '0')),
         (ARRAY['check','check','check','offered','download-started','download-completed',
                'updated','declined'])[g % 8 + 1], NULL, NULL, 'up to date: runs release 3'
  FROM (SELECT g, (g * 7919) % {ndev} + 1 d FROM generate_series(1::bigint, {nev}) g) e;
ANALYZE;
"""


def measure(srv, path):
    for _ in range(WARMUP):
        srv.call("GET", path)
    t = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        srv.call("GET", path)
        t.append((time.perf_counter() - t0) * 1000)
    t.sort()
    return t[len(t) // 2], t[min(len(t) - 1, int(len(t) * 0.95))], t[-1]


def plans(cl, url, binary, tmp, paths, name):
    """The plans PostgreSQL's auto_explain logs for the events statements the server runs
    (on the paths, each called 8 times: past the switch to a generic plan)."""
    db = url.split("?")[0].rsplit("/", 1)[1]
    pgcluster.psql(url, "LOAD 'auto_explain'; ALTER DATABASE %s SET session_preload_libraries "
                   "= 'auto_explain'; ALTER DATABASE %s SET auto_explain.log_min_duration = 0"
                   % (db, db))
    logpath = os.path.join(cl.st["root"], "log")
    start = os.path.getsize(logpath)
    srv = Server(binary, url, tmp, "explain-" + name.replace(" ", ""))
    try:
        settle(srv)
        for p in paths:
            for _ in range(8):
                srv.call("GET", p)
    finally:
        srv.stop()
        pgcluster.psql(url, "ALTER DATABASE %s RESET ALL" % db)
    with open(logpath, errors="replace") as f:
        f.seek(start)
        text = f.read()
    found = {}
    for block in re.split(r"\n(?=\S)", text):
        m = re.search(r"Query Text: (SELECT id, at_ms.*?FROM events WHERE .*?LIMIT \$\d)", block,
                      re.S)
        if not m:
            continue
        q = " ".join(m.group(1).split())
        plan = [ln.strip() for ln in block[m.end():].splitlines() if ln.strip()]
        found[q] = plan  # the last one: the generic plan once it is used
    return found


def settle(srv, most=60):
    """Wait until the server has done what it does after a start (it reads the registry:
    fleet.c) and idles: less than 5 % of a CPU over a second, at most most seconds."""
    deadline = time.time() + most
    while time.time() < deadline:
        a = srv.cpu_ticks()
        time.sleep(1)
        if (srv.cpu_ticks() - a) * 100 < 5 * TICK:
            return


def older_first():
    """The builds for parts 2 and 3, the older first: a newer server migrates the schema
    (PG_MIGRATIONS), after which an older one refuses the database."""
    return ([("before", BEFORE)] if BEFORE else []) + [("this build", UPD)]


def bench_events(cl, tmp):
    url = cl.database("fleet")
    bins = older_first()
    srv = Server(bins[0][1], url, tmp, "fleet-schema")  # the schema
    srv.stop()
    now = int(time.time() * 1000)
    log("filling %d devices and %d events" % (NDEV, NEV))
    t0 = time.time()
    pgcluster.psql(url, FILL.format(now=now, ndev=NDEV, nev=NEV))
    log("filled in %.0f s" % (time.time() - t0))
    mac = pgcluster.psql(url, "SELECT mac FROM events GROUP BY mac ORDER BY count(*) DESC, mac "
                         "LIMIT 1").strip()
    nmac = count(url, "events WHERE mac='%s'" % mac)
    q = mac.replace(":", "%3A")
    paths = [("its events, newest 50", "/api/v1/events?mac=%s&limit=50" % q),
             ("device page (row + newest 100 events)", "/api/v1/devices/%s" % q),
             ("its events of one kind, newest 50",
              "/api/v1/events?mac=%s&kind=updated&limit=50" % q),
             ("all events, newest 50", "/api/v1/events?limit=50")]
    rows = []
    found = {}
    for name, binary in bins:
        srv = Server(binary, url, tmp, "fleet-%s" % name.replace(" ", ""))
        try:
            settle(srv)
            for what, p in paths:
                rows.append((name, what, p) + measure(srv, p))
                log("%s: %s: p95 %.1f ms" % (name, what, rows[-1][4]))
        finally:
            srv.stop()
        found[name] = plans(cl, url, binary, tmp, [p for _, p in paths], name)
    return url, mac, nmac, rows, found


def idle_cpu(cl, srv):
    """CPU ms per second of the server and of the cluster over IDLE s without requests."""
    pids = cl.pids()
    a0, b0, t0 = srv.cpu_ticks(), ticks_of(pids), time.time()
    time.sleep(IDLE)
    a1, b1, t1 = srv.cpu_ticks(), ticks_of(pids), time.time()
    per = 1000.0 / TICK / (t1 - t0)
    return (a1 - a0) * per, (b1 - b0) * per


def bench_idle(cl, tmp):
    """Part 3: per build, a database of its own with NDEV devices (a newer build migrates
    the schema, which an older one then refuses): idle without a rollout, then with a
    running rollout whose NDEV devices all have a state in it."""
    rows = []
    for n, (name, binary) in enumerate(older_first()):
        url = cl.database("idle_%d" % n)
        srv = Server(binary, url, tmp, "idle-schema-%d" % n)
        srv.stop()
        pgcluster.psql(url, FILL.format(now=int(time.time() * 1000), ndev=NDEV, nev=0))
        srv = Server(binary, url, tmp, "idle-%d" % n)
        try:
            settle(srv)
            rows.append((name, "no rollout") + idle_cpu(cl, srv))
            log("%s idle, no rollout: server %.1f ms/s, PostgreSQL %.1f ms/s" % (
                name, rows[-1][2], rows[-1][3]))
            f = os.path.join(tmp, "app.bin")
            subprocess.run([MK, "esp8266-app", f, "250000", "7"], check=True)
            rel = json.loads(srv.call("POST", "/api/v1/releases?version=2.0.0",
                                      open(f, "rb").read(), "application/octet-stream"))
            ro = json.loads(srv.call("POST", "/api/v1/rollouts", json.dumps(
                {"release": rel["id"], "waves": "100%", "max_failures": "50%"})))
            pgcluster.psql(url, "INSERT INTO rollout_devices(rollout_id, mac, state, at_ms) "
                           "SELECT %d, mac, CASE WHEN (last_event_ms %% 3) = 0 THEN 'offered' "
                           "ELSE 'updated' END, last_event_ms FROM devices" % ro["id"])
            time.sleep(5)
            rows.append((name, "a running rollout over %d devices" % NDEV) + idle_cpu(cl, srv))
            log("%s idle, rollout: server %.1f ms/s, PostgreSQL %.1f ms/s" % (
                name, rows[-1][2], rows[-1][3]))
        finally:
            srv.stop()
    return rows


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return "%s, %d CPUs, %s %s" % (cpu, os.cpu_count() or 0, platform.system(),
                                   platform.release())


def version(binary):
    p = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return (p.stdout or p.stderr).strip().splitlines()[0] if (p.stdout or p.stderr) else "?"


def git_rev():
    p = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return p.stdout.strip() or "?"


def main():
    for b in [UPD, MK] + ([BEFORE] if BEFORE else []):
        if not os.access(b, os.X_OK):
            sys.exit("bench/pgstore: %s is missing: cmake --preset release && cmake --build "
                     "--preset release" % b)
    tmp = tempfile.mkdtemp(prefix="updraft-benchpgstore-")
    cl = Cluster(tmp)
    try:
        batch, left = bench_batch(cl, tmp) if "batch" in PARTS else ({}, {})
        url, mac, nmac, ev, found = bench_events(cl, tmp)
        idle = bench_idle(cl, tmp) if "idle" in PARTS else []
        pgver = pgcluster.psql(cl.st["url"], "SHOW server_version").strip()
    finally:
        cl.close()
        shutil.rmtree(tmp, ignore_errors=True)
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    L = ["# The PostgreSQL store at fleet scale", "",
         "Written by `bench/pgstore/run.py` (method in its header and docs/benchmarks.md).",
         "Do not edit by hand: run the script again.", "",
         "| | |", "|---|---|",
         "| date | %s |" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         "| updraft | %s, `%s` (release build) |" % (git_rev(), version(UPD)),
         "| before | %s |" % (("`%s`, %s" % (BEFORE, version(BEFORE))) if BEFORE else "none"),
         "| PostgreSQL | %s, a throwaway cluster on a Unix socket (fsync off) |" % pgver,
         "| machine | %s |" % machine(),
         "| load average after | %s (other jobs share the machine) |" %
         " ".join("%.2f" % x for x in os.getloadavg()), "",
         "## 1. The writer's batch of %d records after an outage" % BATCH, "",
         "PostgreSQL stopped, %d devices check once (their records held), PostgreSQL "
         "started: the writer writes them in one batch. Records per second of that batch "
         "(`updraft_store_seconds` of op batch), each of 2 rounds, binaries alternating."
         % BATCH, "",
         "| build | batch | records/s (median) | each round |", "|---|---|---:|---|"]
    for name in batch:
        for kind, what in (("known", "known devices checking again (an UPDATE each)"),
                           ("new", "new devices (an upsert and an event each)")):
            v = batch[name][kind]
            L.append("| %s | %s | %.0f | %s |" % (name, what, med(v),
                                                   ", ".join("%.0f" % x for x in v)))
    if BEFORE and batch:
        for kind in ("known", "new"):
            L.append("")
            L.append("this build / before, %s devices: **%.1fx**" % (
                kind, med(batch["this build"][kind]) / med(batch["before"][kind])))
    L += ["", "Rows each run left (devices, events): " + "; ".join(
        "%s round %d: %d, %d" % (k[0], k[1], v[0], v[1]) for k, v in sorted(left.items())),
        "", "## 2. A device's events at %d events, %d devices" % (NEV, NDEV), "",
        "Device %s (%d events); %d calls per row over one keep-alive connection after %d "
        "warm-up calls." % (mac, nmac, ROUNDS, WARMUP), "",
        "| build | call | median ms | p95 ms | max ms | goal |", "|---|---|---:|---:|---:|---|"]
    for name, what, path, m50, p95, mx in ev:
        goal = "" if "all events" in what else ("< 50 ms: %s" % ("met" if p95 < 50 else
                                                                "NOT met"))
        L.append("| %s | `GET %s` %s | %.1f | %.1f | %.1f | %s |" % (name, path, what, m50, p95,
                                                                    mx, goal))
    for name, fq in found.items():
        L += ["", "The plans of the statements of %s (auto_explain, after 8 executions each):"
              % name, ""]
        for q, plan in sorted(fq.items()):
            L += ["```", q] + ["  " + p for p in plan] + ["```"]
    L.append("")
    L += ["## 3. An idle server at %d devices" % NDEV, "",
          "CPU over %d s without a request, once the server's work after its start is done "
          "(with the rollout: 5 s after the start; once a second the server reads back the "
          "rollouts and their devices' states: docs/scaling.md)." % IDLE, "",
          "| build | database | server CPU ms/s | PostgreSQL CPU ms/s |", "|---|---|---:|---:|"]
    for name, what, a, b in idle:
        L.append("| %s | %s | %.1f | %.1f |" % (name, what, a, b))
    text = "\n".join(L) + "\n"
    print(text)
    if OUT and len(set(PARTS) & {"batch", "events", "idle"}) == 3:
        os.makedirs(os.path.dirname(OUT), exist_ok=True)
        with open(OUT, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
