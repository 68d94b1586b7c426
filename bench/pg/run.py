#!/usr/bin/env python3
"""updraft on PostgreSQL (issue 13, "Benchmarks"), all in one run on one throwaway
PostgreSQL cluster (tests/server/pgcluster.py: initdb + pg_ctl as an unprivileged user,
Unix socket only), loopback only. Writes bench/results/pg.md.

1. Checks per second, the "no update" path (a device on the current release asks
   GET /update with the exact ESP8266 request of bench/server: HTTP/1.0, Connection:
   close, every x-ESP8266-* header; answer 304), with wrk and bench/server/device.lua:
     sqlite   one `updraft serve` on SQLite (the reference)
     pg       one `updraft serve` on PostgreSQL
     pg-2     two `updraft serve` on that PostgreSQL, each loaded by its own wrk with
              half the threads and connections (a load balancer's share)
   Two device mixes: "one" (bench/server's: one device again and again, its row always in
   the server's read cache) and "fleet" (FLEET_MACS devices in turn, bench/pg/fleet.lua:
   more than the read cache holds; the device memory holds them, on both backends, once
   each device's first check is written: the warm-up run; with two servers each server
   has half of the devices). Configurations take turns within
   each of ROUNDS rounds; tables give the median. During each run the CPU time of every
   process (utime+stime from /proc/PID/stat: the servers, every PostgreSQL process, wrk)
   and of the whole machine (/proc/stat) is measured, so what limits the rate is shown.
2. `updraft sim` with DEVICES devices (default 100,000; whole update cycle: check,
   download, write, verify, reboot, check again) against two servers on PostgreSQL: two
   simulators, one per server, half of the devices each (distinct MACs). Wall time, peak
   RSS of each server (VmHWM) and of PostgreSQL (the sum over its processes of Pss,
   which counts shared buffers once, sampled every 0.5 s), CPU time of each, and the
   records: after the servers stop (SIGTERM writes what their writers hold) the database
   must hold every device and every event the simulators' counts imply (0 lost).
   Database size per device and per event from pg_total_relation_size.

usage: bench/pg/run.py [DEVICES]
Settings (environment): ROUNDS=3 DURATION=10 WRK_THREADS=2 WRK_CONNS=64 FLEET_MACS=10000
  SKIP_CHECKS=1 SKIP_SIM=1 SKIP_BUILD=1 (use build/release as it is) SIM_MAX_S=3600
  WRK_CPUS / SERVER_CPUS / PG_CPUS (taskset CPU lists, e.g. WRK_CPUS=1; default: none)
  OUT=bench/results/pg.md UPDRAFT=... MKIMAGE=...
Needs: PostgreSQL (Debian postgresql), wrk, a release build (cmake --preset release).
Exits 0 whatever the numbers are (non-zero only when the benchmark could not be set up).
"""
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))
import pgcluster  # noqa: E402

UPD = os.environ.get("UPDRAFT", os.path.join(ROOT, "build/release/src/cli/updraft"))
MK = os.environ.get("MKIMAGE", os.path.join(ROOT, "build/release/tests/cli/mkimage"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "bench/results/pg.md"))
DEVICES = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
WRK_THREADS = int(os.environ.get("WRK_THREADS", "2"))
WRK_CONNS = int(os.environ.get("WRK_CONNS", "64"))
FLEET_MACS = int(os.environ.get("FLEET_MACS", "10000"))
SIM_MAX_S = int(os.environ.get("SIM_MAX_S", "3600"))
CPUS = {k: os.environ.get(k.upper() + "_CPUS") or None for k in ("wrk", "server", "pg")}
TOKEN = "bench-pg-token-0123456789"
MAC = "DE:BA:7A:B1:E0:42"
HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count()
# PostgreSQL as updraft's own SQLite store runs (WAL, synchronous=NORMAL: a commit does
# not wait for its fsync, a crash loses the last ones but nothing else): fsync on,
# synchronous_commit off; the rest Debian's defaults but the connection limit.
PG_SETTINGS = {"fsync": "on", "synchronous_commit": "off", "full_page_writes": "on",
               "shared_buffers": "128MB", "max_connections": "400"}


STARTED = []  # every process started here: stopped on the way out, whatever happens


def log(msg):
    print("[bench/pg %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def die(msg):
    log("error: " + msg)
    sys.exit(1)


def pinned(cmd, what):
    return (["taskset", "-c", CPUS[what]] + cmd) if CPUS[what] else cmd


# ---- /proc ---------------------------------------------------------------------------------

def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in clock ticks, None when the process is gone."""
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14])


def descendants(root):
    """root and every process below it."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = proc_stat(int(d))
            if s:
                kids.setdefault(s[0], []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def group_ticks(root):
    """{pid: ticks} of root and its descendants, plus root's reaped children's ticks."""
    t = {}
    for p in descendants(root):
        s = proc_stat(p)
        if s:
            t[p] = s[1] + (s[2] if p == root else 0)
    return t


def machine_ticks():
    """(busy, total) jiffies of all CPUs."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return sum(f[:8]) - idle, sum(f[:8])


class CpuMeter:
    """CPU seconds of process groups (named roots) and of the machine between start() and
    stop()."""

    def __init__(self, groups):
        self.groups = groups  # name -> root pid (a callable giving pids for wrk)

    def start(self):
        self.t0 = {n: group_ticks(r) for n, r in self.groups.items()}
        self.m0 = machine_ticks()
        self.w0 = time.time()

    def stop(self):
        out = {}
        for n, r in self.groups.items():
            t1 = group_ticks(r)
            out[n] = sum(v - self.t0[n].get(p, 0) for p, v in t1.items()) / HZ
        b, t = machine_ticks()
        out["_machine_busy"] = (b - self.m0[0]) / HZ
        out["_machine_total"] = (t - self.m0[1]) / HZ
        out["_wall"] = time.time() - self.w0
        return out


def status_kb(pid, key):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    try:
        for line in open("/proc/%d/smaps_rollup" % pid):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---- servers -------------------------------------------------------------------------------

class Server:
    def __init__(self, tmp, name, db=None):
        self.name = name
        self.data = os.path.join(tmp, name)
        self.logf = os.path.join(tmp, name + ".log")
        # the server's defaults: the simulated devices connect each from an address of its
        # own (docs/sim.md); only wrk's connections all come from 127.0.0.1
        # /metrics on an address of its own: it answers while the request threads wait
        # for room in a full record queue (docs/operations.md "The record queue")
        cmd = [UPD, "serve", "--listen", "127.0.0.1:0", "--data", self.data,
               "--metrics-listen", "127.0.0.1:0"] + (
            ["--db", db] if db else []) + (
            ["--max-per-address", str(WRK_CONNS)] if WRK_CONNS > 128 else [])
        env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
        self.p = subprocess.Popen(pinned(cmd, "server"), stdout=open(self.logf, "w"),
                                  stderr=subprocess.STDOUT, env=env)
        STARTED.append(self.p)
        self.port = self.mport = None
        for _ in range(300):
            log = open(self.logf).read()
            m = re.search(r"^listening on http://127\.0\.0\.1:(\d+)", log, re.M)
            mm = re.search(r"^metrics on http://127\.0\.0\.1:(\d+)/metrics", log, re.M)
            if m and mm:
                self.port, self.mport = int(m.group(1)), int(mm.group(1))
                break
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        if not self.port:
            die("%s did not start: %s" % (name, open(self.logf).read()[-2000:]))

    def api(self, method, path, body=None, raw=None, ctype="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                             else None)
        req = urllib.request.Request("http://127.0.0.1:%d/api/v1%s" % (self.port, path),
                                     method=method, data=data,
                                     headers={"Authorization": "Bearer " + TOKEN,
                                              "Content-Type": ctype})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"null")

    def dropped(self):
        return self.api("GET", "")["dropped_device_records"]

    def metrics(self, timeout=2):
        """Every sample of /metrics on the server's metrics address, by name with its
        labels ('updraft_store_seconds_count{op="batch"}'); {} when it did not answer
        within timeout seconds."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.mport,
                                        timeout=timeout) as r:
                body = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in body.splitlines():
            name, _, value = line.rpartition(" ")
            if name and not line.startswith("#"):
                out[name] = float(value)
        return out

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(120)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def device_request(port, version, md5, size, mac=MAC):
    """bench/server/run.sh's device_request, byte for byte."""
    lines = ["GET /update HTTP/1.0", "Host: 127.0.0.1:%d" % port,
             "User-Agent: ESP8266-http-Update", "Connection: close",
             "x-ESP8266-Chip-ID: 15602487", "x-ESP8266-STA-MAC: " + mac,
             "x-ESP8266-AP-MAC: " + mac, "x-ESP8266-free-space: 1695744",
             "x-ESP8266-sketch-size: %d" % size, "x-ESP8266-sketch-md5: " + md5,
             "x-ESP8266-chip-size: 4194304", "x-ESP8266-sdk-version: 2.5.0",
             "x-ESP8266-mode: sketch", "x-ESP8266-version: " + version, "Content-Length: 0",
             "", ""]
    return "\r\n".join(lines).encode()


def raw_status(port, req):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf.split(b"\r\n", 1)[0].decode(errors="replace")


# ---- PostgreSQL ----------------------------------------------------------------------------

class Cluster:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pg")
        if pgcluster.start(self.dir) != 0:
            die("cannot start a PostgreSQL cluster (tests/server/pgcluster.py)")
        self.st = json.load(open(os.path.join(self.dir, "state.json")))
        if "skip" in self.st:
            die(self.st["skip"])
        # restart with the benchmark's settings in place of the tests' (fsync off ...)
        opts = "-c listen_addresses='' -c unix_socket_directories=%s -p %d %s" % (
            self.st["root"], self.st["port"],
            " ".join("-c %s=%s" % kv for kv in PG_SETTINGS.items()))
        ctl = [os.path.join(self.st["bindir"], "pg_ctl"), "-D", self.st["data"], "-w", "-t",
               "60", "-l", os.path.join(self.st["root"], "log"), "-o", opts, "restart"]
        p = subprocess.run(pgcluster.as_user(ctl, self.st["user"]), capture_output=True,
                           text=True, cwd=self.st["root"])
        if p.returncode != 0:
            die("pg_ctl restart: " + p.stdout + p.stderr)
        if CPUS["pg"]:
            subprocess.run(["taskset", "-a", "-p", "-c", CPUS["pg"], str(self.postmaster())],
                           capture_output=True)
        self.version = self.sql(self.st["url"], "SHOW server_version").strip()

    def postmaster(self):
        return int(open(os.path.join(self.st["data"], "postmaster.pid")).readline())

    def sql(self, url, q):
        exe = shutil.which("psql") or os.path.join(self.st["bindir"], "psql")
        p = subprocess.run([exe, "-X", "-q", "-t", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-d", url, "-c", q], capture_output=True, text=True)
        if p.returncode != 0:
            die("psql (%s): %s" % (q, p.stderr))
        return p.stdout

    def database(self, name):
        self.sql(self.st["url"], "CREATE DATABASE %s" % name)
        return self.st["url"].replace("/postgres?", "/%s?" % name)

    def close(self):
        pgcluster.stop(self.dir)


# ---- 1. checks -----------------------------------------------------------------------------

def wrk(port, reqfile, threads, conns, mix_args):
    script = os.path.join(ROOT, "bench/server/device.lua") if mix_args is None else \
        os.path.join(ROOT, "bench/pg/fleet.lua")
    cmd = ["timeout", str(DURATION + 15), "wrk", "-t%d" % threads, "-c%d" % conns,
           "-d%ds" % DURATION, "-s", script, "http://127.0.0.1:%d" % port, "--", reqfile] + \
        [str(a) for a in (mix_args or [])]
    p = subprocess.Popen(pinned(cmd, "wrk"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    STARTED.append(p)
    return p


def parse_wrk(out):
    m = re.search(r"^WRK (.*)$", out, re.M)
    if not m:
        return None
    kv = dict(x.split("=") for x in m.group(1).split())
    r = {k: int(v) for k, v in kv.items()}
    r["errors"] = sum(v for k, v in r.items() if k.startswith("err_"))
    return r


def check_run(cfg, servers, pg, reqs, mix):
    """One wrk run (two when two servers share the load): checks/s and CPU seconds."""
    n = len(servers)
    groups = {s.name: s.p.pid for s in servers}
    groups["postgresql"] = pg.postmaster() if pg else None
    groups = {k: v for k, v in groups.items() if v}
    procs = []
    dropped0 = sum(s.dropped() for s in servers)
    meter = CpuMeter(groups)
    meter.start()
    for i, s in enumerate(servers):
        mix_args = None if mix == "one" else [FLEET_MACS // n * i, FLEET_MACS // n]
        procs.append(wrk(s.port, reqs[s.name], max(1, WRK_THREADS // n), WRK_CONNS // n,
                         mix_args))
    wrk_ticks = {}
    while any(p.poll() is None for p in procs):
        for p in procs:  # wrk's CPU time, read while it runs (timeout does not reap it for us)
            for q in descendants(p.pid):
                s = proc_stat(q)
                if s:
                    wrk_ticks[q] = s[1]
        time.sleep(0.2)
    cpu = meter.stop()
    cpu["wrk"] = sum(wrk_ticks.values()) / HZ
    res = [parse_wrk(p.stdout.read()) for p in procs]
    if any(r is None for r in res):
        log("%s %s: wrk gave no result" % (cfg, mix))
        return None
    reqs_total = sum(r["requests"] for r in res)
    dur = max(r["duration_us"] for r in res) / 1e6
    return {"rate": reqs_total / dur, "requests": reqs_total,
            "dropped": sum(s.dropped() for s in servers) - dropped0,
            "errors": sum(r["errors"] for r in res),
            "p99_ms": max(r["p99_us"] for r in res) / 1000, "cpu": cpu,
            "servers": [s.name for s in servers]}


def bench_checks(tmp, pg, big):
    big_md5, big_size, _ = big
    url = pg.database("bench_checks")
    sq = Server(tmp, "sqlite")
    a = Server(tmp, "pg-a", url)
    b = Server(tmp, "pg-b", url)
    for s in (sq, a):
        s.api("POST", "/releases?version=2.0.0&channel=stable", raw=open(big[2], "rb").read(),
              ctype="application/octet-stream")
    # b sees a's release through the database (NOTIFY, or its cache's second)
    deadline = time.time() + 10
    while time.time() < deadline and not b.api("GET", "/releases").get("releases", []):
        time.sleep(0.2)
    reqs, sanity = {}, {}
    for s in (sq, a, b):
        reqs[s.name] = os.path.join(tmp, "check-%s.req" % s.name)
        body = device_request(s.port, "2.0.0", big_md5, big_size)
        open(reqs[s.name], "wb").write(body)
        sanity[s.name] = raw_status(s.port, body)
    configs = [("sqlite", [sq], None), ("pg", [a], pg), ("pg-2", [a, b], pg)]
    res = {}
    for mix in ("one", "fleet"):
        if mix == "fleet":  # every device of the fleet known to every configuration's servers
            log("fleet warm-up: %d devices" % FLEET_MACS)
            for cfg, srvs, p in configs:
                check_run(cfg, srvs, p, reqs, mix)
        for r in range(ROUNDS):
            for cfg, srvs, p in configs:
                x = check_run(cfg, srvs, p, reqs, mix)
                res[(mix, cfg, r)] = x
                if x:
                    log("%s %s round %d: %.0f checks/s, cpu %s" % (
                        mix, cfg, r + 1, x["rate"], {k: round(v, 1) for k, v in x["cpu"].items()}))
    dropped = {s.name: s.dropped() for s in (sq, a, b)}
    for s in (sq, a, b):
        s.stop()
    return res, sanity, dropped


# ---- 2. sim --------------------------------------------------------------------------------

class Sampler(threading.Thread):
    """Peak RSS of the servers (VmRSS) and of PostgreSQL (sum of Pss), and the peak of
    each server's record queue (records, bytes), every 0.5 s."""

    def __init__(self, servers, pg):
        super().__init__(daemon=True)
        self.servers, self.pg = servers, pg
        self.queue = {s.name: {"records": 0, "bytes": 0} for s in servers}
        self.peak = {s.name: 0 for s in servers}
        self.peak["postgresql"] = 0
        self.peak["postgresql_rss_max_process"] = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            for s in self.servers:
                self.peak[s.name] = max(self.peak[s.name], status_kb(s.p.pid, "VmRSS"))
                m = s.metrics()
                q = self.queue[s.name]
                if m.get("updraft_queued_records", 0) > q["records"]:
                    q["records"] = m["updraft_queued_records"]
                    q["bytes"] = m.get("updraft_queued_record_bytes", 0)
            pids = descendants(self.pg.postmaster())
            self.peak["postgresql"] = max(self.peak["postgresql"], sum(pss_kb(p) for p in pids))
            self.peak["postgresql_rss_max_process"] = max(
                self.peak["postgresql_rss_max_process"],
                max([status_kb(p, "VmRSS") for p in pids] or [0]))
            self.halt.wait(0.5)


def bench_sim(tmp, pg):
    url = pg.database("bench_sim")
    img = os.path.join(tmp, "sim-app.bin")
    subprocess.run([MK, "esp8266-app", img, "300000", "7"], check=True, capture_output=True)
    a = Server(tmp, "sim-a", url)
    b = Server(tmp, "sim-b", url)
    a.api("POST", "/releases?version=2.0.0&channel=stable", raw=open(img, "rb").read(),
          ctype="application/octet-stream")
    deadline = time.time() + 10
    while time.time() < deadline and not b.api("GET", "/releases").get("releases", []):
        time.sleep(0.2)
    half = DEVICES // 2
    parts = [(a, half, 1), (b, DEVICES - half, 1 + half)]
    sampler = Sampler([a, b], pg)
    sampler.start()
    meter = CpuMeter({"sim-a": a.p.pid, "sim-b": b.p.pid, "postgresql": pg.postmaster()})
    meter.start()
    t0 = time.time()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sims = []
    for srv, n, first in parts:
        cmd = ["timeout", str(SIM_MAX_S), UPD, "sim", "--server",
               "http://127.0.0.1:%d/update" % srv.port, "--devices", str(n), "--mac-start",
               str(first), "--seed", "1", "--json", "--quiet"]
        sims.append(subprocess.Popen(pinned(cmd, "wrk"), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
        STARTED.append(sims[-1])
    outs = []
    sim_rss = []
    for p in sims:
        o, e = p.communicate()
        lines = o.strip().splitlines()
        try:
            j = json.loads(lines[-1])
        except (IndexError, ValueError):
            j = None
        outs.append((p.returncode, j, e[-2000:]))
        if j:
            sim_rss.append(j.get("peak_rss_kb", 0))
    wall = time.time() - t0
    cpu = meter.stop()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the simulators, reaped by now
    cpu["simulators"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    t1 = time.time()
    for srv in (a, b):  # an admin read waits until the writer wrote what it holds
        srv.api("GET", "/devices?limit=1")
    drain_s = time.time() - t1
    dropped = {s.name: s.dropped() for s in (a, b)}
    waits = {s.name: s.metrics(30) for s in (a, b)}
    hwm = {s.name: status_kb(s.p.pid, "VmHWM") for s in (a, b)}
    t1 = time.time()
    rcs = {s.name: s.stop() for s in (a, b)}  # SIGTERM: the writers write what they hold
    flush_s = time.time() - t1
    sampler.halt.set()
    sampler.join()
    counts = {}
    for line in pg.sql(url, "SELECT kind, count(*) FROM events GROUP BY kind").splitlines():
        k, v = line.split("\t")
        counts[k] = int(v)
    devices = int(pg.sql(url, "SELECT count(*) FROM devices").strip())
    on_new = int(pg.sql(url, "SELECT count(*) FROM devices WHERE version = '2.0.0'").strip())
    sizes = {}
    for t in ("devices", "events", "blob_chunks", "releases"):
        sizes[t] = int(pg.sql(url, "SELECT pg_total_relation_size('%s')" % t).strip())
    sizes["_database"] = int(pg.sql(url, "SELECT pg_database_size(current_database())").strip())
    events_total = sum(counts.values())
    return {"wall": wall, "outs": outs, "cpu": cpu, "dropped": dropped, "rcs": rcs,
            "flush_s": flush_s, "drain_s": drain_s, "peak": sampler.peak, "hwm": hwm, "counts": counts,
            "queue": sampler.queue, "waits": waits,
            "devices": devices, "on_new": on_new, "sizes": sizes, "events_total": events_total,
            "sim_rss": sim_rss}


# ---- report --------------------------------------------------------------------------------

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, d=0):
    return "n/a" if x is None else "%.*f" % (d, x)


def ratio(a, b):
    return None if a is None or not b else a / b


def goal(v, op, lim):
    if v is None:
        return "n/a"
    return "met" if (v >= lim if op == ">=" else v < lim) else "MISSED"


def report_checks(res, sanity, dropped):
    L = []
    L.append("## 1. Checks per second (device on the current release: 304)")
    L.append("")
    L.append("wrk `-t%d -c%d -d%ds` per configuration (with two servers: one wrk per server "
             "with half the threads and connections), %d rounds, configurations alternating; "
             "the medians. CPU: seconds of CPU time during the run, per 1000 checks, from "
             "/proc (utime+stime of every thread; PostgreSQL: every process of the cluster); "
             "machine: all CPUs' busy time from /proc/stat, including other jobs."
             % (WRK_THREADS, WRK_CONNS, DURATION, ROUNDS))
    L.append("")
    summary = {}
    for mix in ("one", "fleet"):
        L.append("### Device mix: %s" % ("one device (bench/server's request)" if mix == "one"
                                          else "%d devices in turn (bench/pg/fleet.lua)" % FLEET_MACS))
        L.append("")
        L.append("| configuration | checks/s (median) | each round | p99 ms | updraft CPU ms / 1000 checks | PostgreSQL CPU ms / 1000 checks | wrk CPU ms / 1000 checks | machine busy | of which other jobs | wrk errors | device records dropped | records kept per second |")
        L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for cfg in ("sqlite", "pg", "pg-2"):
            runs = [res.get((mix, cfg, r)) for r in range(ROUNDS)]
            ok = [x for x in runs if x]
            rate = med([x["rate"] for x in ok])

            def per_k(x, keys):
                c = sum(x["cpu"].get(k, 0) for k in keys)
                return c * 1e6 / x["requests"] if x["requests"] else None

            srv_keys = ok[0]["servers"] if ok else []
            upd_ms = med([per_k(x, srv_keys) for x in ok])
            pg_ms = med([per_k(x, ["postgresql"]) for x in ok]) if cfg != "sqlite" else None
            wrk_ms = med([per_k(x, ["wrk"]) for x in ok])
            busy = med([x["cpu"]["_machine_busy"] / x["cpu"]["_machine_total"] for x in ok])
            ours = med([(sum(x["cpu"].get(k, 0) for k in srv_keys + ["postgresql", "wrk"]))
                        / x["cpu"]["_machine_total"] for x in ok])
            other = None if busy is None or ours is None else max(0.0, busy - ours)
            summary[(mix, cfg)] = {"rate": rate, "upd_ms": upd_ms, "pg_ms": pg_ms,
                                   "dropped": sum(x["dropped"] for x in ok),
                                   "wrk_ms": wrk_ms, "busy": busy, "other": other}
            kept = med([(x["requests"] - x["dropped"]) / x["cpu"]["_wall"] for x in ok])
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %s |" % (
                cfg, fmt(rate), ", ".join(fmt(x["rate"]) if x else "n/a" for x in runs),
                fmt(med([x["p99_ms"] for x in ok]), 1), fmt(upd_ms, 1), fmt(pg_ms, 1),
                fmt(wrk_ms, 1), fmt(busy and busy * 100) + "%", fmt(other and other * 100) + "%",
                sum(x["errors"] for x in ok), sum(x["dropped"] for x in ok), fmt(kept)))
        L.append("")
    L.append("Answers checked before the runs (status line): " + ", ".join(
        "%s `%s`" % kv for kv in sanity.items()) + ". Device records dropped: what the servers' "
        "writer queues could not hold (`dropped_device_records`, counted over the measured "
        "runs); records kept per second: the checks of a run less its dropped records, over "
        "its wall time (each check is one device record for the writer). Over all runs, "
        "warm-up included, dropped: " + ", ".join("%s %s" % kv for kv in dropped.items()) + ".")
    L.append("")
    return L, summary


def limits_text(summary):
    L = []
    L.append("| goal | device mix | measured | |")
    L.append("|---|---|---:|---|")
    g = {}
    for mix in ("one", "fleet"):
        s = summary
        r1 = ratio(s[(mix, "pg")]["rate"], s[(mix, "sqlite")]["rate"])
        r2 = ratio(s[(mix, "pg-2")]["rate"], s[(mix, "pg")]["rate"])
        g[mix] = (r1, r2)

        def verdict(v, lim, cfgs):
            d = sum(s[(mix, c)]["dropped"] for c in cfgs)
            if d:  # a rate bought by dropping records does not count
                return "MISSED: %d device records dropped on the way" % d
            return goal(v, ">=", lim)
        L.append("| one server on PostgreSQL >= 0.8x one on SQLite | %s | %sx | %s |" % (
            mix, fmt(r1, 2), verdict(r1, 0.8, ("sqlite", "pg"))))
        L.append("| two servers on one PostgreSQL >= 1.6x one | %s | %sx | %s |" % (
            mix, fmt(r2, 2), verdict(r2, 1.6, ("pg", "pg-2"))))
    L.append("")
    L.append("The same comparisons by CPU time rather than by rate (less at the mercy of the "
             "other jobs on the machine): checks per CPU-second of updraft and PostgreSQL "
             "together, against updraft on SQLite (its database works inside the process); "
             "and how many checks one server does per CPU-second of its own with two servers "
             "against with one (1.0x: a second server on a machine of its own doubles the "
             "rate, as long as PostgreSQL has CPU to spare).")
    L.append("")
    L.append("| capacity by CPU time | device mix | measured |")
    L.append("|---|---|---:|")
    for mix in ("one", "fleet"):
        sq, p1, p2 = (summary[(mix, c)] for c in ("sqlite", "pg", "pg-2"))
        try:
            c1 = sq["upd_ms"] / (p1["upd_ms"] + p1["pg_ms"])
            c2 = p1["upd_ms"] / p2["upd_ms"]
        except (TypeError, ZeroDivisionError):
            continue
        L.append("| checks per CPU-second, PostgreSQL (updraft + PostgreSQL) against SQLite | "
                 "%s | %sx |" % (mix, fmt(c1, 2)))
        L.append("| checks per server CPU-second, two servers against one | %s | %sx |" % (
            mix, fmt(c2, 2)))
    L.append("")
    # what limits: CPU per check of each part, and how busy the machine was
    for mix in ("one", "fleet"):
        p1, p2, sq = summary[(mix, "pg")], summary[(mix, "pg-2")], summary[(mix, "sqlite")]
        if None in (p1["rate"], p2["rate"], p1["upd_ms"], p2["upd_ms"], p1["pg_ms"], p2["pg_ms"]):
            continue
        tot1 = p1["upd_ms"] + p1["pg_ms"] + p1["wrk_ms"]
        L.append(
            "What limits it (%s): the machine's %d CPUs were %s%% busy with one server and %s%% "
            "with two (other jobs: %s%% and %s%%). Per 1000 checks, one server on PostgreSQL "
            "spent %s ms of updraft CPU, %s ms of PostgreSQL CPU and %s ms of wrk CPU "
            "(updraft on SQLite: %s ms); with two servers %s, %s and %s ms. So per check "
            "updraft takes %s%%, PostgreSQL %s%% and the load generator %s%% of the CPU this "
            "benchmark uses. " % (
                mix, NCPU, fmt(p1["busy"] * 100), fmt(p2["busy"] * 100), fmt(p1["other"] * 100),
                fmt(p2["other"] * 100), fmt(p1["upd_ms"], 1), fmt(p1["pg_ms"], 1),
                fmt(p1["wrk_ms"], 1), fmt(sq["upd_ms"], 1), fmt(p2["upd_ms"], 1),
                fmt(p2["pg_ms"], 1), fmt(p2["wrk_ms"], 1), fmt(p1["upd_ms"] / tot1 * 100),
                fmt(p1["pg_ms"] / tot1 * 100), fmt(p1["wrk_ms"] / tot1 * 100)))
        if p1["busy"] >= 0.9:
            L[-1] += ("The CPUs are the limit: a second server on the same CPUs only shares "
                      "them with the first, with wrk and with the other jobs. ")
        else:
            L[-1] += ("The CPUs were not all busy: the limit is latency (connections waiting "
                      "on the database or on the load generator), not CPU. ")
        pg_cap = 1e6 / p2["pg_ms"] if p2["pg_ms"] else None
        if pg_cap:
            L[-1] += ("At %s ms of PostgreSQL CPU per 1000 checks, one PostgreSQL core carries "
                      "about %d checks/s of this mix, %sx the rate of the two servers here: %s" % (
                          fmt(p2["pg_ms"], 1), round(pg_cap, -2), fmt(pg_cap / p2["rate"], 1),
                          "the database is not the bottleneck." if pg_cap >= 2 * p2["rate"]
                          else "the database is close to being the bottleneck."))
        drop = {c: summary[(mix, c)]["dropped"] for c in ("pg", "pg-2")}
        if any(drop.values()):
            L[-1] += (" But the servers' writers did not keep up: they dropped %d (one server) "
                      "and %d (two) device records in the measured runs, so these rates and "
                      "PostgreSQL's CPU leave out the writes of those records." % (
                          drop["pg"], drop["pg-2"]))
        L.append("")
    return L, g


def report_sim(s):
    L = []
    L.append("## 2. `updraft sim`, %d devices, two servers on one PostgreSQL" % DEVICES)
    L.append("")
    outs = s["outs"]
    ok = all(j for _, j, _ in outs)
    if not ok:
        for rc, j, e in outs:
            if rc == 124:
                L.append("A simulator was stopped after %d s (SIM_MAX_S): the run did not "
                         "finish in time; what the database holds is counted below." % SIM_MAX_S)
            elif not j:
                L.append("A simulator failed (exit status %s): `%s`" % (rc, e.strip()[-400:]))
        L.append("")
    js = [j for _, j, _ in outs if j]
    tot = {k: sum(j.get(k, 0) for j in js) for k in ("devices", "updated", "current", "checks",
                                                        "installs", "retries", "bytes",
                                                        "bricked_client", "bricked_bootloader",
                                                        "failed_total")}
    L.append("Two `updraft sim` processes, one per server, %d and %d devices (distinct MACs), "
             "the release (a synthetic ESP8266 app, 338,432 bytes) uploaded on the first "
             "server, seen by the second through the database. Whole update cycle per "
             "device: check (200 + image), download, write, verify, reboot, check again (304)."
             % (DEVICES // 2, DEVICES - DEVICES // 2))
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    L.append("| wall time (both simulators done) | %.1f s |" % s["wall"])
    L.append("| devices updated / current / failed / bricked | %d / %d / %d / %d |" % (
        tot["updated"], tot["current"], tot["failed_total"],
        tot["bricked_client"] + tot["bricked_bootloader"]))
    errs = {}
    for j in js:
        for k, v in j.get("errors", {}).items():
            errs[k] = errs.get(k, 0) + v
    L.append("| checks, installs, retries | %d, %d, %d |" % (tot["checks"], tot["installs"],
                                                         tot["retries"]))
    L.append("| errors on the way (the simulators' count, by error) | %s |" % (
        ", ".join("%s: %d" % kv for kv in sorted(errs.items())) or "none"))
    L.append("| the simulators' slowest turn (the longest a response waited unread: "
             "docs/sim.md \"When the simulator falls behind\") | %s |" % (
                 ", ".join("%.1f s" % (j.get("slowest_turn_ms", 0) / 1000) for j in js)))
    L.append("| firmware sent | %.2f GB |" % (tot["bytes"] / 1e9))
    for n in ("sim-a", "sim-b"):
        L.append("| %s: peak RSS (VmHWM), CPU | %.1f MB, %.1f s |" % (
            n, s["hwm"][n] / 1024, s["cpu"][n]))
    L.append("| PostgreSQL: peak memory (sum of Pss of its processes), largest process RSS, CPU | %.1f MB, %.1f MB, %.1f s |" % (
        s["peak"]["postgresql"] / 1024, s["peak"]["postgresql_rss_max_process"] / 1024,
        s["cpu"]["postgresql"]))
    L.append("| simulators: peak RSS, CPU (both) | %s MB, %.1f s |" % (
        ", ".join("%.0f" % (k / 1024) for k in s["sim_rss"]), s["cpu"]["simulators"]))
    for n in ("sim-a", "sim-b"):
        q, w = s["queue"][n], s["waits"][n]
        L.append("| %s: its record queue at its peak (sampled every 0.5 s): records, bytes "
                 "a record; records that waited for room (docs/operations.md \"The record "
                 "queue\"), their wait in all | %d, %s; %d, %.1f s |" % (
                     n, q["records"], "%.0f" % (q["bytes"] / q["records"]) if q["records"]
                     else "-", w.get("updraft_record_queue_waits_total", 0),
                     w.get("updraft_record_queue_wait_seconds_total", 0)))
    L.append("| machine busy during the run (all CPUs, other jobs included) | %.0f%% |" % (
        100 * s["cpu"]["_machine_busy"] / s["cpu"]["_machine_total"]))
    L.append("| after the simulators: the writers' queues written (an admin read waits for "
             "it), then the servers' stop (SIGTERM) | %.1f s, %.1f s, exit %s |" % (
                 s["drain_s"], s["flush_s"], ", ".join(str(v) for v in s["rcs"].values())))
    L.append("")
    cp = s["cpu"]
    ours = {"the simulators": cp["simulators"], "the two servers": cp["sim-a"] + cp["sim-b"],
            "PostgreSQL": cp["postgresql"]}
    other = max(0.0, cp["_machine_busy"] - sum(ours.values()))
    top = max(ours, key=ours.get)
    L.append("What limits the wall time: of the %.0f CPU-seconds the machine had during the "
             "run (%d CPUs x %.0f s), %s took %.0f, the two servers %.0f, PostgreSQL %.0f and "
             "other jobs %.0f; idle %.0f. %s" % (
                 cp["_machine_total"], NCPU, s["wall"], "the simulators", cp["simulators"],
                 cp["sim-a"] + cp["sim-b"], cp["postgresql"], other,
                 cp["_machine_total"] - cp["_machine_busy"],
                 "The largest share of this run's own CPU went to %s; " % top +
                 ("the machine was busy throughout, so the simulation ran at the pace of the "
                  "CPU it was left." if cp["_machine_busy"] >= 0.9 * cp["_machine_total"]
                  else "the machine was not always busy.")))
    L.append("")
    c = s["counts"]
    conv = tot["updated"] + tot["current"]
    # (record, expected, in the database, at least: more is not a loss)
    exp = [("devices", tot["devices"], s["devices"], False),
           ("devices on 2.0.0 (updated or current)", conv, s["on_new"], False),
           ("`updated` events (an install recognised)", tot["updated"], c.get("updated", 0), False),
           ("`download-completed` events", tot["installs"], c.get("download-completed", 0), True),
           ("`check` events (the 304 of each converged device)", conv, c.get("check", 0), True)]
    L.append("Records: what the simulators did against what the database holds after the run.")
    L.append("")
    L.append("| record | expected from the simulators' counts | in PostgreSQL | |")
    L.append("|---|---:|---:|---|")
    lost_total = 0
    for name, e, got, at_least in exp:
        lost_total += max(0, e - got)
        if got == e or (at_least and got > e):
            verdict = "ok" if got == e else "ok (%d more: retried downloads)" % (got - e)
        else:
            verdict = "%d lost" % (e - got) if got < e else "%d more" % (got - e)
        L.append("| %s | %s%d | %d | %s |" % (name, ">= " if at_least else "", e, got, verdict))
    L.append("")
    L.append("Device records the servers' writers dropped (`dropped_device_records`): %s. "
             "All events in the database: %d (%s)." % (
                 ", ".join("%s %d" % kv for kv in s["dropped"].items()), s["events_total"],
                 ", ".join("%s %d" % kv for kv in sorted(c.items()))))
    L.append("")
    sz = s["sizes"]
    per_dev = sz["devices"] / max(1, s["devices"])
    per_ev = sz["events"] / max(1, s["events_total"])
    L.append("Database size after the run: %.1f MB in all; devices (table and indexes) %.1f MB "
             "= %.0f bytes per device = %.1f MB per 100,000 devices; events %.1f MB = %.0f "
             "bytes per event = %.0f MB per million events; firmware chunks %.1f MB."
             % (sz["_database"] / 1e6, sz["devices"] / 1e6, per_dev, per_dev * 1e5 / 1e6,
                sz["events"] / 1e6, per_ev, per_ev * 1e6 / 1e6, sz["blob_chunks"] / 1e6))
    L.append("")
    dropped = sum(s["dropped"].values())
    sim_ok = all(rc == 0 for rc, _, _ in outs) and ok
    L.append("| goal | measured | |")
    L.append("|---|---:|---|")
    L.append("| %d devices converged (sim exit status 0) | %s | %s |" % (
        DEVICES, "yes" if sim_ok else "no", "met" if sim_ok else "MISSED"))
    L.append("| wall time < 10 min | %.1f s | %s |" % (s["wall"], goal(s["wall"], "<", 600)))
    L.append("| 0 lost records | %d lost, %d dropped | %s |" % (
        lost_total, dropped, "met" if lost_total == 0 and dropped == 0 else "MISSED"))
    if DEVICES < 100000:
        L.append("| the goal's fleet: 100,000 devices | %d | MISSED: this run had fewer "
                 "devices (`bench/pg/run.py 100000` runs the goal's fleet) |" % DEVICES)
    L.append("")
    return L, {"lost": lost_total, "dropped": dropped, "per_dev": per_dev, "per_ev": per_ev}


def report_sizing(summary, sim, simsum):
    """The numbers docs/scaling.md quotes, each from this run."""
    L = ["## 3. Sizing (the numbers docs/scaling.md quotes)", "",
         "| | |", "|---|---|"]
    if summary:
        for mix in ("one", "fleet"):
            for cfg, what in (("sqlite", "one server on SQLite"), ("pg", "one server on PostgreSQL"),
                              ("pg-2", "two servers on PostgreSQL")):
                x = summary[(mix, cfg)]
                if x["upd_ms"]:
                    L.append("| checks per second of updraft CPU, %s, mix %s | %d |" % (
                        what, mix, round(1e6 / x["upd_ms"], -2)))
            x = summary[(mix, "pg-2")]
            if x["pg_ms"]:
                L.append("| checks per second of PostgreSQL CPU, two servers, mix %s | %d |" % (
                    mix, round(1e6 / x["pg_ms"], -2)))
    if sim and simsum:
        for n in ("sim-a", "sim-b"):
            L.append("| peak RSS of a server that served %d devices (VmHWM) | %.1f MB |" % (
                DEVICES // 2, sim["hwm"][n] / 1024))
        L.append("| PostgreSQL's peak memory (sum of Pss), %d devices | %.1f MB |" % (
            DEVICES, sim["peak"]["postgresql"] / 1024))
        L.append("| database: devices table and indexes per 100,000 devices | %.1f MB |" % (
            simsum["per_dev"] * 1e5 / 1e6))
        L.append("| database: events table and indexes per million events | %.0f MB |" % (
            simsum["per_ev"]))
        L.append("| `updraft sim`, whole cycle, two servers: devices per second | %.0f |" % (
            DEVICES / sim["wall"]))
    L.append("")
    return L


def main():
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            die("%s is not installed (apt-get install -y wrk util-linux)" % tool)
    if not os.environ.get("SKIP_BUILD"):
        log("building (cmake --preset release)")
        b = subprocess.run("cmake --preset release >/dev/null && cmake --build --preset release "
                           "-j2 --target updraft mkimage >/dev/null", shell=True, cwd=ROOT)
        if b.returncode != 0:
            log("warning: build failed; using the binaries in build/release")
    for exe in (UPD, MK):
        if not os.access(exe, os.X_OK):
            die("%s missing: cmake --preset release && cmake --build --preset release" % exe)
    load_before = open("/proc/loadavg").read().split()[:3]
    tmp = tempfile.mkdtemp(prefix="updraft-bench-pg-")
    pg = None

    def on_signal(sig, _frame):
        raise SystemExit(130)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        pg = Cluster(tmp)
        log("PostgreSQL %s, %s" % (pg.version, pg.st["url"]))
        big = os.path.join(tmp, "fw-1mib.bin")
        subprocess.run([MK, "esp8266-app", big, "1010144", "1"], check=True, capture_output=True)
        import hashlib
        bigmeta = (hashlib.md5(open(big, "rb").read()).hexdigest(), os.path.getsize(big), big)
        checks = sim = None
        if not os.environ.get("SKIP_CHECKS"):
            checks = bench_checks(tmp, pg, bigmeta)
        if not os.environ.get("SKIP_SIM"):
            log("sim: %d devices against two servers" % DEVICES)
            sim = bench_sim(tmp, pg)
            log("sim: %.1f s" % sim["wall"])
        load_after = open("/proc/loadavg").read().split()[:3]
        write_report(checks, sim, pg, load_before, load_after)
    finally:
        for p in STARTED:
            if p.poll() is None:
                p.terminate()
        for p in STARTED:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if pg:
            pg.close()
        if os.environ.get("KEEP_WORK"):
            log("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


COMMIT = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                        capture_output=True, text=True).stdout.strip()  # at the start


def settings_text():
    """The settings of this run that change what the report holds, as a command prefix."""
    keys = ["SKIP_CHECKS", "SKIP_SIM", "ROUNDS", "DURATION", "FLEET_MACS", "OUT"]
    out = []
    for k in keys:
        v = os.environ.get(k)
        if v:
            if k == "OUT":
                v = os.path.relpath(os.path.abspath(v), ROOT)
            out.append("%s=%s " % (k, v))
    return "".join(out)


def write_report(checks, sim, pg, load_before, load_after):
    commit = COMMIT
    model = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = int(open("/proc/meminfo").readline().split()[1]) / 1048576
    wrkv = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    L = ["# PostgreSQL benchmark results", "",
         "Written by `%sbench/pg/run.py %d` (method in its header; docs/scaling.md uses these "
         "numbers). Do not edit by hand: run the script again." % (settings_text(), DEVICES), "",
         "| | |", "|---|---|",
         "| date | %s |" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         "| machine | %d CPUs (%s), %.0f GiB RAM, Linux %s |" % (NCPU, model, mem, os.uname().release),
         "| load average before / after | %s / %s (other jobs share the machine) |" % (
             " ".join(load_before), " ".join(load_after)),
         "| updraft | %s, release build (build/release) |" % commit,
         "| PostgreSQL | %s, a throwaway cluster (tests/server/pgcluster.py) on a Unix socket; %s |" % (
             pg.version, ", ".join("%s=%s" % kv for kv in PG_SETTINGS.items())),
         "| load generator | %s; `updraft sim` |" % wrkv.strip(),
         "| CPU pinning (taskset) | wrk and sim: %s; servers: %s; PostgreSQL: %s |" % (
             CPUS["wrk"] or "none", CPUS["server"] or "none", CPUS["pg"] or "none"),
         ""]
    summary = simsum = None
    if checks:
        res, sanity, dropped = checks
        lc, summary = report_checks(res, sanity, dropped)
        L += lc
        lt, _ = limits_text(summary)
        L += lt
    if sim:
        ls, simsum = report_sim(sim)
        L += ls
    L += report_sizing(summary, sim, simsum)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    open(OUT + ".tmp", "w").write("\n".join(L).rstrip() + "\n")
    os.replace(OUT + ".tmp", OUT)
    log("results written to " + OUT)
    print("\n".join(L))


if __name__ == "__main__":
    sys.exit(main())
