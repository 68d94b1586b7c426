#!/usr/bin/env python3
"""The device memory (src/server/devmem.c, docs/architecture.md "The server's request
path"): what a check reads of a device's row comes from memory, kept by the writer's
batches and dropped by admin writes; against the real `updraft serve`.

- admin: every admin write to a device (channel, pin, unpin, tags that a rollout's target
  reads, retry of a held release, delete) is honoured by the device's very next check,
  made at once after the API call answered, while the device is held in memory (on
  SQLite and on PostgreSQL: test_devsync.py has two servers).
- bound: `--device-memory N` holds at most N devices; the others are read from the
  database at each check and answered the same (a pinned one gets its pin); the memory
  per device is measured (updraft_device_memory_bytes over 2,000 devices); 0 turns it
  off; a bad value is refused with what it needs.

usage: test_devmem.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: admin bound"""
import subprocess
import time

import test_server as t
from test_server import Server, arduino_bin, check, eq, md5

R1 = arduino_bin(seed=11)
R2 = arduino_bin(seed=12)
R3 = arduino_bin(seed=13)
OLD = "a43ad019932b627ab90ee35a94a764ee"  # an image none of the releases is


def metrics(srv):
    return t.metric_samples(srv, r'updraft_device_memory_\w+(?:\{from="\w+"\})?')


def from_memory(srv):
    return metrics(srv).get('updraft_device_memory_checks_total{from="memory"}', 0)


def check_in(srv, mac, image, version, want, what):
    """t.check_in with this module's sketch size: the response."""
    return t.check_in(srv, mac, image, len(R1), version, want, what)


def settle(srv, mac, n):
    """Wait until the writer recorded device mac's n-th check-in (its last_seen moved)."""
    for _ in range(200):
        d = srv.api("GET", "/api/v1/devices/" + mac).json or {}
        if d.get("mac") and d.get("last_seen") != settle.seen.get(mac):
            settle.seen[mac] = d.get("last_seen")
            return
        time.sleep(0.02)
    check(False, "the check-in %d of %s was recorded" % (n, mac))


settle.seen = {}


def routine(srv, mac, image, version, want, what, checks=2):
    """Checks that the writer records one by one: from the second on, the device's row
    comes from the memory (SQLite)."""
    for i in range(checks):
        check_in(srv, mac, image, version, want, "%s (check %d)" % (what, i + 1))
        time.sleep(0.25)  # the writer's batch (50 ms) has written it


def t_admin():
    srv = Server(extra=["--failure-backoff", "none"])
    try:
        r1 = srv.upload(R1, "2.0.0", "stable").json
        r2 = srv.upload(R2, "3.0.0", "beta").json
        r3 = srv.upload(R3, "4.0.0").json
        check(r1 and r2 and r3, "three releases uploaded")
        dev = "5C:CF:7F:D0:00:01"
        routine(srv, dev, md5(R1), "2.0.0", None, "runs the channel's release")
        before = from_memory(srv)
        check_in(srv, dev, md5(R1), "2.0.0", None, "once more")
        eq(from_memory(srv), before + 1, "that check read the device's row from memory")

        # its channel
        eq(srv.api("PUT", "/api/v1/devices/%s/channel" % dev, {"channel": "beta"}).status, 200,
           "channel beta")
        check_in(srv, dev, md5(R1), "2.0.0", "3.0.0", "the next check after channel beta")
        time.sleep(0.25)
        eq(srv.api("PUT", "/api/v1/devices/%s/channel" % dev, {"channel": ""}).status, 200,
           "channel cleared")
        check_in(srv, dev, md5(R1), "2.0.0", None, "the next check after the channel cleared")
        time.sleep(0.25)

        # a pin, then none (each offer a device does not install counts as a failure: a
        # device of its own for each)
        dev = "5C:CF:7F:D0:00:04"
        routine(srv, dev, md5(R1), "2.0.0", None, "runs the channel's release")
        eq(srv.api("POST", "/api/v1/devices/%s/pin" % dev, {"release": r3["id"]}).status, 200,
           "pinned to release 3")
        check_in(srv, dev, md5(R1), "2.0.0", "4.0.0", "the next check after the pin")
        time.sleep(0.25)
        eq(srv.api("DELETE", "/api/v1/devices/%s/pin" % dev).status, 200, "unpinned")
        check_in(srv, dev, md5(R1), "2.0.0", None, "the next check after the unpin")
        time.sleep(0.25)

        # tags, which a rollout's target reads
        r = srv.api("POST", "/api/v1/rollouts", {"release": r3["id"], "waves": "100%",
                                                 "target": "tag=lab"})
        eq(r.status, 201, "a rollout of release 3 to tag=lab: %s" % r.body[:200])
        dev = "5C:CF:7F:D0:00:05"
        routine(srv, dev, md5(R1), "2.0.0", None, "not tagged: not in the rollout")
        eq(srv.api("POST", "/api/v1/devices/%s/tags" % dev, {"add": ["lab"]}).status, 200,
           "tagged lab")
        check_in(srv, dev, md5(R1), "2.0.0", "4.0.0", "the next check after the tag")
        time.sleep(0.25)
        eq(srv.api("POST", "/api/v1/devices/%s/tags" % dev, {"remove": ["lab"]}).status, 200,
           "lab removed")
        check_in(srv, dev, md5(R1), "2.0.0", None, "the next check after the tag went")
        time.sleep(0.25)

        # a release that failed on it is held back; retry lifts the hold
        held = "5C:CF:7F:D0:00:02"
        check_in(srv, held, OLD, "1.0.0", "2.0.0", "offered the channel's release")
        for _ in range(200):
            if any(e["kind"] == "download-completed" for e in t.events(srv, mac=held)):
                break
            time.sleep(0.02)
        # still the old image: the release failed (this check is decided before its record
        # is written, so it is offered once more)
        check_in(srv, held, OLD, "1.0.0", "2.0.0", "still the old image")
        for _ in range(200):
            if any(e["kind"] == "failed" for e in t.events(srv, mac=held)):
                break
            time.sleep(0.02)
        r = check_in(srv, held, OLD, "1.0.0", None, "held back")
        check("failed on this device" in r.headers.get("x-updraft-reason", ""),
              "the reason says it failed: %r" % r.headers.get("x-updraft-reason"))
        time.sleep(0.25)
        check_in(srv, held, OLD, "1.0.0", None, "still held back")
        eq(srv.api("POST", "/api/v1/devices/%s/retry" % held).status, 200, "retry")
        check_in(srv, held, OLD, "1.0.0", "2.0.0", "the next check after retry")
        time.sleep(0.25)

        # a deleted device is gone: its pin with it
        gone = "5C:CF:7F:D0:00:03"
        eq(srv.api("POST", "/api/v1/devices/%s/pin" % gone, {"release": r2["id"]}).status, 200,
           "a device pinned before its first check")
        routine(srv, gone, md5(R1), "2.0.0", "3.0.0", "pinned to release 2")
        r = srv.api("DELETE", "/api/v1/devices/" + gone)
        eq(r.status, 200, "deleted")
        check_in(srv, gone, md5(R1), "2.0.0", None, "the next check after the delete: new")
        settle(srv, gone, 1)
        d = srv.api("GET", "/api/v1/devices/" + gone).json or {}
        eq(d.get("pinned_release"), None, "a new row, without the pin: %r" % d)
        m = metrics(srv)
        check(m.get("updraft_device_memory_devices", 0) >= 2,
              "the devices are held in memory: %r" % m)
    finally:
        srv.stop()
    check("device-memory-mismatch" not in srv.stderr, "the memory followed the database")


def t_bound():
    bad = subprocess.run([t.BIN, "serve", "--device-memory", "-3", "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=30)
    check(bad.returncode != 0, "--device-memory -3 is refused")
    check("--device-memory" in bad.stderr and "needs a number of devices" in bad.stderr,
          "the error names the flag and what it needs: %r" % bad.stderr)

    srv = Server(extra=["--device-memory", "5"])
    try:
        r1 = srv.upload(R1, "2.0.0", "stable").json
        r2 = srv.upload(R2, "3.0.0").json
        macs = ["5C:CF:7F:B0:00:%02X" % i for i in range(12)]
        pinned = macs[-1]  # registered last: beyond the bound
        for rnd in range(3):
            for mac in macs:
                want = "3.0.0" if mac == pinned and rnd > 0 else None
                check_in(srv, mac, md5(R1), "2.0.0", want, "%s, round %d" % (mac, rnd + 1))
            time.sleep(0.2)
            if rnd == 0:
                eq(srv.api("POST", "/api/v1/devices/%s/pin" % pinned, {"release": r2["id"]})
                   .status, 200, "pin the last device")
        m = metrics(srv)
        eq(m.get("updraft_device_memory_max_devices"), 5, "the bound")
        eq(m.get("updraft_device_memory_devices"), 5, "at most 5 devices held: %r" % m)
        check(m.get("updraft_device_memory_full_total", 0) >= 7,
              "the others were not kept: %r" % m)
        check(m.get('updraft_device_memory_checks_total{from="database"}', 0) >= 14,
              "the devices beyond the bound read the database: %r" % m)
        check(r1 is not None, "release 1")
    finally:
        srv.stop()

    # memory per device, measured over 2,000 devices
    srv = Server()
    try:
        srv.upload(R1, "2.0.0", "stable")
        n = 2000
        for i in range(n):
            check_in(srv, "5C:CF:7F:C0:%02X:%02X" % (i >> 8, i & 255), md5(R1), "2.0.0", None,
                     "fleet device %d" % i)
        m = {}
        for _ in range(100):
            m = metrics(srv)
            if m.get("updraft_device_memory_devices") == n:
                break
            time.sleep(0.05)
        eq(m.get("updraft_device_memory_devices"), n, "every device held")
        per = m.get("updraft_device_memory_bytes", 0) / n
        print("device memory: %d bytes for %d devices: %.0f bytes a device" % (
            m.get("updraft_device_memory_bytes", 0), n, per))
        check(0 < per <= 256, "at most 256 bytes a device: %.0f" % per)
    finally:
        srv.stop()

    srv = Server(extra=["--device-memory", "0"])
    try:
        srv.upload(R1, "2.0.0", "stable")
        routine(srv, "5C:CF:7F:E0:00:01", md5(R1), "2.0.0", None, "no device memory")
        eq(metrics(srv), {}, "--device-memory 0: no device memory metrics")
    finally:
        srv.stop()


GROUPS = {"admin": t_admin, "bound": t_bound}

if __name__ == "__main__":
    t.run_group(GROUPS)
