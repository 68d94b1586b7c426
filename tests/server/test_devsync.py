#!/usr/bin/env python3
"""The device memory across servers on one PostgreSQL (src/server/devsync.c,
docs/scaling.md "Caches"): each server keeps its devices' rows in memory and drops, twice
a second, those another server wrote; against two real `updraft serve` on the run's
cluster.

- hop: a device held in b's memory fails its offer on a (a's writer records the failure
  and the hold): a second later b holds the release back too, and so does a after b's
  writer recorded b's checks. Both servers answer from memory (their metrics), and b
  counts the devices the sync dropped.
- admin: a channel, a pin, a tag a rollout's target reads (on one device, and in bulk on
  two), a retry of a held release and a delete made on a are honoured by b's check one
  second later, while b held the device in memory; and b keeps every other device it
  holds (a's notification names the device: b's checks of the others read no database,
  its updraft_device_memory_* say), while a change to the whole fleet (a rollout made on
  a) empties b's memory.

usage: test_devsync.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: hop admin"""
import sys
import time

import pgcluster
import test_server as t
from test_server import Server, arduino_bin, check, eq, md5

R1 = arduino_bin(seed=21)
R2 = arduino_bin(seed=22)
OLD = "a43ad019932b627ab90ee35a94a764ee"  # an image none of the releases is
SYNC = 1.0  # the promise: another server's write is honoured within a second


def metrics(srv):
    return t.metric_samples(srv, r'updraft_device_(?:memory|sync)_\w+(?:\{\w+="\w+"\})?')


def stop_both(a, b):
    """Stop the servers; each one's memory must have followed the database (a debug build
    logs device-memory-mismatch where it did not)."""
    for s in (a, b):
        if s:
            s.stop()
    for s, name in ((a, "a"), (b, "b")):
        if s:
            check("device-memory-mismatch" not in s.stderr,
                  "%s's memory followed the database" % name)


def check_in(srv, mac, image, version, want, what):
    """t.check_in with this module's sketch size: the response."""
    return t.check_in(srv, mac, image, len(R1), version, want, what)


def held(srv, mac, image, version, what):
    """b (or a) keeps device mac in its memory: two checks the writer records, the second
    answered from memory."""
    for i in range(2):
        check_in(srv, mac, image, version, None, "%s (check %d)" % (what, i + 1))
        time.sleep(0.2)


def wait_event(srv, mac, kind):
    for _ in range(250):
        if any(e["kind"] == kind for e in t.events(srv, mac=mac)):
            return True
        time.sleep(0.02)
    check(False, "%s's %s event was recorded" % (mac, kind))
    return False


BYSTANDERS = ["5C:CF:7F:DB:01:%02X" % i for i in range(1, 4)]
FROM_DB = 'updraft_device_memory_checks_total{from="database"}'
FROM_MEM = 'updraft_device_memory_checks_total{from="memory"}'


def hold_bystanders(b):
    for mac in BYSTANDERS:
        held(b, mac, md5(R1), "2.0.0", "b holds bystander " + mac)


def kept(b, what):
    """b's memory kept the devices a's admin write did not name: their checks read no
    database."""
    before = metrics(b)
    for mac in BYSTANDERS:
        check_in(b, mac, md5(R1), "2.0.0", None, "%s: bystander %s" % (what, mac))
    after = metrics(b)
    eq(after.get(FROM_DB, 0) - before.get(FROM_DB, 0), 0,
       "%s: b's checks of the other devices it held read the database" % what)
    eq(after.get(FROM_MEM, 0) - before.get(FROM_MEM, 0), len(BYSTANDERS),
       "%s: b's checks of the other devices it held, from memory" % what)
    check(after.get("updraft_device_memory_devices", 0) >= len(BYSTANDERS),
          "%s: b holds the other devices: %r" % (what, after))


def two_servers(extra=()):
    if pgcluster.state() is None:
        print("SKIPPED: two servers need PostgreSQL: run with UPDRAFT_TEST_PG "
              "(ctest -L pg: pg.devsync.*)")
        sys.exit(77)
    a = Server(extra=list(extra))
    b = Server(extra=["--db", a.db] + list(extra))
    return a, b


def t_hop():
    a = b = None
    try:
        a, b = two_servers(["--failure-backoff", "none"])
        # no release on the channel yet: the devices run what they run
        dev = "5C:CF:7F:DA:00:01"
        held(b, dev, OLD, "1.0.0", "b holds the device")
        check(a.upload(R1, "2.0.0", "stable").json, "release 2.0.0 on stable")
        time.sleep(SYNC)  # the upload's NOTIFY emptied b's memory: b reads the row again
        check_in(b, dev, OLD, "1.0.0", "2.0.0", "b offers the channel's release")
        wait_event(b, dev, "download-completed")
        time.sleep(0.2)
        before = metrics(b)
        # on a, the device still runs the old image: a's writer records the failure and
        # holds the release back from it
        check_in(a, dev, OLD, "1.0.0", "2.0.0", "a: still the old image (decided before the "
                 "failure is recorded)")
        wait_event(a, dev, "failed")
        check_in(a, dev, OLD, "1.0.0", None, "a holds the release back")
        time.sleep(SYNC)
        r = check_in(b, dev, OLD, "1.0.0", None, "b, a second after a's writer held it back")
        check("failed on this device" in r.headers.get("x-updraft-reason", ""),
              "b's reason says it failed: %r" % r.headers.get("x-updraft-reason"))
        after = metrics(b)
        check(after.get("updraft_device_sync_dropped_total", 0) >
              before.get("updraft_device_sync_dropped_total", 0),
              "b's sync dropped the device a wrote: %r" % after)
        time.sleep(0.2)
        check_in(b, dev, OLD, "1.0.0", None, "b, from memory again: still held back")

        # and back on a, after b's writer recorded these checks
        time.sleep(SYNC)
        held(a, dev, OLD, "1.0.0", "a, then from memory: held back")
        for _ in range(150):  # a's writer wrote a's checks, b's sync read them
            if metrics(b).get("updraft_device_memory_devices") == 0:
                break
            time.sleep(0.02)
        for srv, name in ((a, "a"), (b, "b")):
            m = metrics(srv)
            # b dropped the device a wrote last; a holds it
            check(m.get("updraft_device_memory_devices", 0) == (1 if srv is a else 0),
                  "%s holds the devices it wrote last: %r" % (name, m))
            check(m.get('updraft_device_memory_checks_total{from="memory"}', 0) >= 1,
                  "%s answered checks from memory: %r" % (name, m))
            check(m.get('updraft_device_sync_reads_total{result="ok"}', 0) >= 2,
                  "%s read the other's writes: %r" % (name, m))
            age = m.get("updraft_device_sync_age_seconds", -1)
            check(0 <= age < 1, "%s's sync is fresh: %r" % (name, age))
    finally:
        stop_both(a, b)


def t_admin():
    a = b = None
    try:
        a, b = two_servers(["--failure-backoff", "none"])
        r1 = a.upload(R1, "2.0.0", "stable").json
        r2 = a.upload(R2, "3.0.0", "beta").json
        check(r1 and r2, "two releases uploaded")
        time.sleep(SYNC)

        # a change to the whole fleet on a (a rollout) empties b's memory; the rollout never
        # pauses (its devices here keep the old image after their offers: failures, whose
        # pause would empty b's memory again)
        hold_bystanders(b)
        r = a.api("POST", "/api/v1/rollouts", {"release": r2["id"], "waves": "100%",
                                               "target": "tag=lab", "max_failures": "100"})
        eq(r.status, 201, "a rollout of 3.0.0 to tag=lab: %s" % r.body[:200])
        time.sleep(SYNC)
        eq(metrics(b).get("updraft_device_memory_devices"), 0,
           "b's memory, a second after a rollout made on a")
        time.sleep(1.5)  # b reads rollouts made elsewhere once a second
        hold_bystanders(b)

        dev = "5C:CF:7F:DB:00:01"
        held(b, dev, md5(R1), "2.0.0", "b holds the device")
        eq(a.api("PUT", "/api/v1/devices/%s/channel" % dev, {"channel": "beta"}).status, 200,
           "a: channel beta")
        time.sleep(SYNC)
        check_in(b, dev, md5(R1), "2.0.0", "3.0.0", "b, a second after the channel")
        kept(b, "the channel")
        time.sleep(0.2)
        eq(a.api("PUT", "/api/v1/devices/%s/channel" % dev, {"channel": ""}).status, 200,
           "a: channel cleared")
        time.sleep(SYNC)
        check_in(b, dev, md5(R1), "2.0.0", None, "b, a second after the channel cleared")
        kept(b, "the channel cleared")

        dev = "5C:CF:7F:DB:00:02"
        held(b, dev, md5(R1), "2.0.0", "b holds the device")
        eq(a.api("POST", "/api/v1/devices/%s/pin" % dev, {"release": r2["id"]}).status, 200,
           "a: pinned to 3.0.0")
        time.sleep(SYNC)
        check_in(b, dev, md5(R1), "2.0.0", "3.0.0", "b, a second after the pin")
        kept(b, "the pin")
        time.sleep(0.2)
        eq(a.api("DELETE", "/api/v1/devices/%s/pin" % dev).status, 200, "a: unpinned")
        time.sleep(SYNC)
        check_in(b, dev, md5(R1), "2.0.0", None, "b, a second after the unpin")
        kept(b, "the unpin")

        dev = "5C:CF:7F:DB:00:03"
        held(b, dev, md5(R1), "2.0.0", "b holds an untagged device")
        eq(a.api("POST", "/api/v1/devices/%s/tags" % dev, {"add": ["lab"]}).status, 200,
           "a: tagged lab")
        time.sleep(SYNC)
        check_in(b, dev, md5(R1), "2.0.0", "3.0.0", "b, a second after the tag")
        kept(b, "the tag")
        time.sleep(0.2)
        eq(a.api("POST", "/api/v1/devices/%s/tags" % dev, {"remove": ["lab"]}).status, 200,
           "a: lab removed")
        time.sleep(SYNC)
        check_in(b, dev, md5(R1), "2.0.0", None, "b, a second after the tag went")
        kept(b, "the tag removed")

        # tags of several devices in one request: one notification names them all
        two = ["5C:CF:7F:DB:00:06", "5C:CF:7F:DB:00:07"]
        for mac in two:
            held(b, mac, md5(R1), "2.0.0", "b holds " + mac)
        r = a.api("POST", "/api/v1/devices/tags", {"macs": two, "add": ["lab"]})
        eq(r.status, 200, "a: two devices tagged lab in one request: %s" % r.body[:200])
        time.sleep(SYNC)
        for mac in two:
            check_in(b, mac, md5(R1), "2.0.0", "3.0.0", "b, a second after %s's tag" % mac)
        kept(b, "the tags of two devices")

        # held back on b, retried on a
        dev = "5C:CF:7F:DB:00:04"
        check_in(b, dev, OLD, "1.0.0", "2.0.0", "b offers the channel's release")
        wait_event(b, dev, "download-completed")
        check_in(b, dev, OLD, "1.0.0", "2.0.0", "b: still the old image")
        wait_event(b, dev, "failed")
        held(b, dev, OLD, "1.0.0", "b holds it back")
        eq(a.api("POST", "/api/v1/devices/%s/retry" % dev).status, 200, "a: retry")
        time.sleep(SYNC)
        check_in(b, dev, OLD, "1.0.0", "2.0.0", "b, a second after the retry")
        kept(b, "the retry")

        # deleted on a: b has it as a new device (its pin gone); it installed its pin, so
        # a row b kept would offer the pin again to the old image it reports after
        dev = "5C:CF:7F:DB:00:05"
        eq(a.api("POST", "/api/v1/devices/%s/pin" % dev, {"release": r2["id"]}).status, 200,
           "a: a device pinned before its first check")
        time.sleep(SYNC)
        check_in(b, dev, md5(R1), "2.0.0", "3.0.0", "b: pinned (check 1)")
        time.sleep(0.2)
        check_in(b, dev, md5(R2), "3.0.0", None, "b: runs its pin (check 2, from memory)")
        time.sleep(0.2)
        eq(a.api("DELETE", "/api/v1/devices/" + dev).status, 200, "a: deleted")
        time.sleep(SYNC)
        check_in(b, dev, md5(R1), "2.0.0", None, "b, a second after the delete: a new device "
                 "on the stable channel, no pin")
        kept(b, "the delete")
        m = metrics(b)
        check(m.get('updraft_device_memory_checks_total{from="memory"}', 0) >= 5,
              "b answered from memory: %r" % m)
    finally:
        stop_both(a, b)


GROUPS = {"hop": t_hop, "admin": t_admin}

if __name__ == "__main__":
    t.run_group(GROUPS)
