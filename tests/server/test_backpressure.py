#!/usr/bin/env python3
"""The writer's record queue under a burst, against the real `updraft serve` (SQLite, and
PostgreSQL in the pg variant) and the real device engine (`updraft sim`). The database is
made slower than the devices by holding a write lock on it from outside (SQLite: BEGIN
IMMEDIATE from another connection; PostgreSQL: LOCK TABLE devices from psql), with a
queue of 1024 records (--record-queue, its smallest):

  burst  the queue fills while the lock is held; the records that find it full wait for
         room (updraft_record_queue_waits_total), the devices' answers with them; the
         lock goes within the wait's bound: every record is written, none dropped
  bound  the lock is held past the wait's bound (2 s): the records that waited that long
         are dropped and counted (updraft_dropped_records_total), said in the log with the
         reason, and the devices were still answered
  gauge  updraft_queued_records and _bytes follow the queue (0 once written), the bound
         is updraft_record_queue_max_records; --record-queue refuses what it cannot take

usage: test_backpressure.py UPDRAFT_BINARY FIRMWARE_DIR GROUP"""
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import urllib.request

import pgcluster
import test_server as t
from test_server import Server, check, eq, wait

QUEUE = 1024


class Lock:
    """A write lock on the server's database, held from outside until release()."""

    def __init__(self, srv):
        self.srv = srv
        if srv.db:
            st = pgcluster.state()
            exe = shutil.which("psql") or os.path.join(st["bindir"], "psql")
            self.psql = subprocess.Popen(
                [exe, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", srv.db],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
            self.psql.stdin.write("BEGIN;\nLOCK TABLE devices IN EXCLUSIVE MODE;\n"
                                  "SELECT 'locked';\n")
            self.psql.stdin.flush()
            eq(self.psql.stdout.readline().strip(), "locked", "psql holds the lock")
        else:
            self.db = sqlite3.connect(os.path.join(srv.data, "updraft.db"), timeout=10,
                                      isolation_level=None, check_same_thread=False)
            self.db.execute("BEGIN IMMEDIATE")

    def release(self):
        if self.srv.db:
            self.psql.stdin.write("COMMIT;\n")
            self.psql.stdin.close()
            self.psql.wait(30)
        else:
            self.db.execute("COMMIT")
            self.db.close()


def start():
    srv = Server(extra=["--record-queue", str(QUEUE), "--metrics-listen", "127.0.0.1:0"])
    line = srv.proc.stdout.readline().decode()
    m = re.match(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
    check(m, "the metrics address is printed: %r" % line)
    srv.mport = int(m.group(1)) if m else 0
    return srv


def metric(srv, name):
    """A value from /metrics on the metrics address (its own thread: it answers while
    every request thread waits for room in the queue)."""
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.mport,
                                  timeout=10).read().decode()
    m = re.search(r"^%s (\S+)$" % re.escape(name), body, re.M)
    return float(m.group(1)) if m else None


def sim_bg(srv, devices, start_mac):
    """`updraft sim` in the background: devices' first checks (nothing to offer them),
    each a record. Returns the thread and where its result goes."""
    out = {}

    def go():
        p = subprocess.run([t.BIN, "sim", "--server", "http://127.0.0.1:%d/update" % srv.port,
                            "--devices", str(devices), "--mac-start", str(start_mac), "--seed",
                            "3", "--quiet", "--json"], capture_output=True, text=True,
                           timeout=300)
        out["rc"], out["stdout"], out["stderr"] = p.returncode, p.stdout, p.stderr

    th = threading.Thread(target=go)
    th.start()
    return th, out


def devices_known(srv):
    """Devices in the registry (an admin read: the writer's queue is written first)."""
    r = srv.api("GET", "/api/v1/devices?limit=1")
    eq(r.status, 200, "GET devices")
    return (r.json or {}).get("total")


def filled(srv, start_mac):
    """The database locked, then 3 queues' worth of devices' first checks until records
    wait for room. Returns the lock and the simulator's thread and result."""
    lock = Lock(srv)
    th, out = sim_bg(srv, 3 * QUEUE, start_mac)
    check(wait(lambda: (metric(srv, "updraft_record_queue_waits_total") or 0) > 0, 60, 0.05),
          "the queue filled and records waited for room")
    return lock, th, out


def t_burst():
    srv = start()
    try:
        lock, th, out = filled(srv, 0x1000)
        eq(metric(srv, "updraft_record_queue_max_records"), QUEUE, "the bound")
        queued = metric(srv, "updraft_queued_records")
        check(queued and queued >= QUEUE - 1, "the queue is full: %r" % queued)
        check(metric(srv, "updraft_queued_record_bytes") > 0, "the queue's bytes")
        lock.release()
        th.join(300)
        eq(out.get("rc"), 0, "every device answered: %s" % out.get("stderr", "")[-300:])
        check(wait(lambda: metric(srv, "updraft_queued_records") == 0, 60, 0.05), "all written")
        eq(metric(srv, "updraft_queued_record_bytes"), 0, "no bytes queued")
        eq(metric(srv, "updraft_dropped_records_total"), 0, "none dropped")
        eq(devices_known(srv), 3 * QUEUE, "every device's record written")
        check(metric(srv, "updraft_record_queue_wait_seconds_total") > 0, "their wait counted")
    finally:
        srv.stop()


def t_bound():
    srv = start()
    try:
        lock, th, out = filled(srv, 0x2000)
        # past the wait's bound: the records waiting are dropped and counted
        check(wait(lambda: (metric(srv, "updraft_dropped_records_total") or 0) > 0, 30, 0.05),
              "records dropped after the wait's bound")
        lock.release()
        th.join(300)
        eq(out.get("rc"), 0, "every device answered: %s" % out.get("stderr", "")[-300:])
        check(wait(lambda: metric(srv, "updraft_queued_records") == 0, 60, 0.05), "all written")
        dropped = metric(srv, "updraft_dropped_records_total")
        eq(devices_known(srv) + dropped, 3 * QUEUE, "written and dropped: every record")
    finally:
        srv.stop()
    check("the database did not make room within 2000 ms" in srv.stderr,
          "the log says why: %r" % srv.stderr[-600:])


def t_gauge():
    srv = start()
    try:
        eq(metric(srv, "updraft_queued_records"), 0, "an idle server queues nothing")
        eq(metric(srv, "updraft_record_queue_max_records"), QUEUE, "the bound")
    finally:
        srv.stop()
    for bad in ("0", "1023", "-5", "lots", "16777217"):
        p = subprocess.run([t.BIN, "serve", "--record-queue", bad, "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode != 0 and "--record-queue" in p.stderr and
              "from 1024 to 16777216" in p.stderr,
              "--record-queue %s refused, saying what it takes: %r" % (bad, p.stderr))


GROUPS = {"burst": t_burst, "bound": t_bound, "gauge": t_gauge}

if __name__ == "__main__":
    t.run_group(GROUPS)
