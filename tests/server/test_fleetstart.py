#!/usr/bin/env python3
"""The dashboard's first figures after a server start with a large registry (src/server/
fleet.c, docs/api.md "Fleet"): the fleet thread reads the registry when the server
starts; an overview or problems call that comes before that reading is done answers at
once, 202 {"building": true, "devices_read": N, ...}, instead of waiting for it, and
the figures follow as soon as it is done, devices_read counting up meanwhile; ?fresh=1
still waits for a reading; a SIGTERM during that reading does not wait for its end;
`updraft problems` waits through the 202. Against the real `updraft serve` (SQLite, and
PostgreSQL in the pg variant) on a registry of DEVICES devices written into its database
while it was stopped.

The bound is measured in the same run: the first call must answer within half the time
one whole reading of this registry takes (its scan_ms); before, it waited for the
reading the start began and then for one more (twice scan_ms).

usage: test_fleetstart.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: first
Environment: FLEETSTART_DEVICES (100000)."""
import http.client
import json
import os
import subprocess
import time

import test_server as t
from test_server import Server, check, eq

NDEV = int(os.environ.get("FLEETSTART_DEVICES", "100000"))


def fill(srv, n):
    """n ESP8266 devices on two versions, seen in the last hours, written straight into
    the stopped server's database (one statement). Three in four were last told they are
    not up to date: the reading asks the decision again for those (as for the bench's
    ESP32 and declined devices, bench/ui/run.py), the rest are up to date; one in four
    has 4 KB free: the release is declined for it (a problem group)."""
    now = int(time.time() * 1000)
    if srv.db:
        hexb = "lpad(upper(to_hex((i >> %d) & 255)), 2, '0')"
        mac = "'5C:CF:' || %s || ':' || %s || ':' || %s || ':' || %s" % (
            hexb % 24, hexb % 16, hexb % 8, hexb % 0)
        rows = "generate_series(0, %d) AS g(i)" % (n - 1)
    else:
        mac = ("printf('5C:CF:%02X:%02X:%02X:%02X', (i >> 24) & 255, (i >> 16) & 255, "
               "(i >> 8) & 255, i & 255)")
        rows = ("(WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < %d) "
                "SELECT i FROM g)" % (n - 1))
    # PostgreSQL keeps the last-seen time in device_seen (store_pg.c migration 19)
    seen = "" if srv.db else "last_seen_ms, "
    srv.sql("INSERT INTO devices(mac, family, version, sdk, free_space, chip_size, "
            "first_seen_ms, %slast_result) SELECT %s, 'esp8266', CASE WHEN "
            "i %% 5 = 0 THEN '1.0.0' ELSE '1.1.0' END, '2.2.2', CASE WHEN i %% 4 = 1 THEN "
            "4096 ELSE 1695744 END, 4194304, %d, %s CASE WHEN i %% 4 <> 0 THEN 'release 1 (version 1.2.0) "
            "not offered: would fail -100 (Not Enough space)' ELSE 'up to date: runs release 1 (version 1.1.0, "
            "file MD5)' END FROM %s" % (seen, mac, now - 86400000,
                                        "" if srv.db else "%d - i," % now, rows))
    if srv.db:
        srv.sql("INSERT INTO device_seen(mac, last_seen_ms) SELECT %s, %d - i FROM %s" % (
            mac, now, rows))


def rss(srv, field="VmRSS"):
    """The server process's resident memory (or its peak, VmHWM) from /proc, as text."""
    try:
        with open("/proc/%d/status" % srv.proc.pid) as f:
            return next((" ".join(ln.split()[1:]) for ln in f if ln.startswith(field + ":")),
                        "?")
    except OSError:
        return "?"


def peak_rss(srv):
    return rss(srv, "VmHWM")


def timed(srv, path):
    t0 = time.perf_counter()
    r = srv.api("GET", path)
    return r, (time.perf_counter() - t0) * 1000


def get_waiting(srv, path):
    """GET path with time to wait for a reading (Server.api gives up after 10 s: a reading
    of this registry under the load of a whole test run takes seconds); (status, JSON)."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=180)
    c.request("GET", path, headers={"Authorization": "Bearer " + t.TOKEN})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, json.loads(body)


def t_first():
    made = Server()  # holds the data directory (its temporary folder) to the end
    data = made.data
    eq(made.upload(t.arduino_bin(seed=7), "1.2.0", "stable").status, 201, "a release on stable")
    made.stop()
    fill(made, NDEV)
    srv = Server(data=data)
    rss0 = rss(srv)
    try:
        first, first_ms = timed(srv, "/api/v1/overview")
        prob, prob_ms = timed(srv, "/api/v1/problems")
        # the reading the start began, then the references: whole readings of this registry
        t0 = time.time()
        read = []  # devices_read of each 202: the reading counts up as it goes
        while True:
            r = srv.api("GET", "/api/v1/overview")
            if r.status != 202 or time.time() - t0 > 120:
                break
            read.append(r.json.get("devices_read"))
            time.sleep(0.05)
        eq(r.status, 200, "the figures once the first reading is done: %s" % r.body[:300])
        print("server memory: peak RSS %s after the first reading (%s at start)" % (
            peak_rss(srv), rss0))
        eq(r.json["devices"]["total"], NDEV, "the first reading counts every device")
        scans = sorted(get_waiting(srv, "/api/v1/overview?fresh=1")[1]["scan_ms"]
                       for _ in range(3))
        scan_ms = scans[1]
        print("%d devices: first overview %.0f ms (%d), first problems %.0f ms (%d), one "
              "reading %d ms (median of 3)" % (NDEV, first_ms, first.status, prob_ms,
                                                prob.status, scan_ms))
        check(scan_ms >= 400, "one reading of %d devices takes %d ms: too quick for the "
              "bound to tell anything (set FLEETSTART_DEVICES higher)" % (NDEV, scan_ms))
        print("devices_read during the 202s: %s" % read)
        # from the reading's start: a listing whose rows all come at once (PostgreSQL's
        # one query, before 855eee3) answered 0 for most of the 202s, then counted up
        zeros = read.count(0)
        check(any(0 < n < NDEV for n in read) and zeros <= max(1, len(read) // 4),
              "devices_read grows from the start of the reading (SQLite steps through the "
              "rows, PostgreSQL fetches them from a cursor), %d of %d answers said 0: %r"
              % (zeros, len(read), read))
        check(read == sorted(read), "devices_read never goes back: %r" % read)
        for what, resp, ms in (("overview", first, first_ms), ("problems", prob, prob_ms)):
            check(ms < scan_ms / 2, "the first %s call answers in %.0f ms, within half of "
                  "one reading of the registry (%d ms)" % (what, ms, scan_ms))
            eq(resp.status, 202, "the first %s call: the figures are being built" % what)
            j = resp.json or {}
            eq(j.get("building"), True, "%s: building" % what)
            check(0 <= j.get("devices_read", -1) <= NDEV,
                  "%s: devices_read %r of %d" % (what, j.get("devices_read"), NDEV))
            check(j.get("retry_ms", 0) > 0 and j.get("started", "").endswith("Z"),
                  "%s: retry_ms and started: %r" % (what, j))
            check("fresh=1" in j.get("message", ""), "%s: the message says how to wait: %r"
                  % (what, j.get("message")))

        # a start again: fresh=1 waits for a whole reading, `updraft problems` waits
        # through the 202 and prints the result
        srv.stop()
        srv = Server(data=data)
        status, j = get_waiting(srv, "/api/v1/overview?fresh=1")
        eq(status, 200, "fresh=1 right after the start waits for the figures")
        eq(j["devices"]["total"], NDEV, "fresh=1: every device")
        # stopped during the first reading: the server does not wait for its end
        srv.stop()
        srv = Server(data=data)
        eq(srv.api("GET", "/api/v1/overview").status, 202, "a reading under way")
        t0 = time.perf_counter()
        srv.stop()
        stop_ms = (time.perf_counter() - t0) * 1000
        print("stopped during the first reading in %.0f ms" % stop_ms)
        # SQLite hands the rows over as it reads them, PostgreSQL a cursor's batch at a
        # time (store_pg.c): the reading ends between two rows or two batches
        check(stop_ms < scan_ms / 2, "SIGTERM during the first reading: stopped in %.0f "
              "ms, within half of one reading (%d ms)" % (stop_ms, scan_ms))
        srv = Server(data=data)
        env = dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port,
                   UPDRAFT_TOKEN=t.TOKEN)
        p = subprocess.run([t.BIN, "problems"], env=env, capture_output=True, text=True,
                           timeout=180)
        eq(p.returncode, 0, "updraft problems right after the start (stderr %r)" %
           p.stderr[-300:])
        check(p.stdout.startswith("%d devices  declined: no-space, release 1 (1.2.0)" %
                                  (NDEV // 4)),
              "updraft problems prints the no-space group once the reading is done: %r"
              % p.stdout[:300])
    finally:
        srv.stop()
        # the server's own words when something failed (a reading the store refused)
        failed = [ln for ln in (srv.stderr or "").splitlines() if "failed" in ln]
        if failed:
            print("server log, its failures:\n" + "\n".join(failed[-10:]))


GROUPS = {"first": t_first}

if __name__ == "__main__":
    t.run_group(GROUPS)
