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
  its updraft_device_memory_* say).
- fleet: a release uploaded to a channel, the channel set back, a rollout started and
  paused on a (changes to no device's row: their notification says so) are honoured by
  b's next check of a device it holds, from memory: b dropped its read caches, kept its
  device memory (no check read the database, updraft_device_memory_clears_total did not
  move); a release deleted on a, which clears it from the rows of the devices that ran
  it, drops those devices from b's memory (named), not the others. The checks of the channel's changes come right after b was told
  (updraft_other_server_changes_total), while the channel's row b read just before is
  still fresh in its read cache: a b that kept its read caches answers with the old one.

usage: test_devsync.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: hop admin fleet"""
import sys
import time

import pgcluster
import test_server as t
from test_server import Server, arduino_bin, check, eq, md5

R1 = arduino_bin(seed=21)
R2 = arduino_bin(seed=22)
R3 = arduino_bin(seed=23)
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
        time.sleep(SYNC)  # the upload's NOTIFY emptied b's read caches, not its memory
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

        # a rollout made on a changes no device's row: b keeps its memory (the rollout
        # never pauses: its devices here keep the old image after their offers)
        hold_bystanders(b)
        r = a.api("POST", "/api/v1/rollouts", {"release": r2["id"], "waves": "100%",
                                               "target": "tag=lab", "max_failures": "100"})
        eq(r.status, 201, "a rollout of 3.0.0 to tag=lab: %s" % r.body[:200])
        time.sleep(1.5)  # b reads rollouts made elsewhere once a second
        kept(b, "a rollout made on a")

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


TOLD = 'updraft_other_server_changes_total{changed="%s"}'
CLEARS = "updraft_device_memory_clears_total"


def told_metrics(srv):
    m = metrics(srv)
    m.update(t.metric_samples(srv, r'updraft_other_server_changes_total\{changed="\w+"\}'))
    return m


def wait_told(b, before, kind, what):
    """b was told of a's change of kind (updraft_other_server_changes_total): within a
    second, the promise."""
    for _ in range(100):
        m = told_metrics(b)
        if m.get(TOLD % kind, 0) > before.get(TOLD % kind, 0):
            return m
        time.sleep(0.01)
    check(False, "%s: b was told of it (%s): %r" % (what, kind, told_metrics(b)))
    return told_metrics(b)


def from_memory(b, before, checks, what):
    """Since before, b's checks (checks of them) were answered from memory, none read the
    database, and b's memory was not emptied."""
    after = told_metrics(b)
    for name, want in ((FROM_DB, 0), (FROM_MEM, checks), (CLEARS, 0), (TOLD % "anything", 0)):
        eq(after.get(name, 0) - before.get(name, 0), want, "%s: b's %s" % (what, name))
    return after


def ask(srv, mac, image, version):
    """One check, whatever its answer: the response."""
    return srv.raw(t.esp8266_request(srv.port, mac=mac, md5sum=image, size=len(R1),
                                     version=version))


def t_fleet():
    a = b = None
    try:
        a, b = two_servers(["--failure-backoff", "none"])
        r1 = a.upload(R1, "2.0.0", "stable").json
        check(r1, "2.0.0 on stable")
        up, back = "5C:CF:7F:DC:00:01", "5C:CF:7F:DC:00:02"  # run 2.0.0, on stable
        labs = ["5C:CF:7F:DC:00:03", "5C:CF:7F:DC:00:04"]  # the same, tagged lab
        for mac in [up, back] + labs + BYSTANDERS:
            held(b, mac, md5(R1), "2.0.0", "b holds " + mac)
        r = a.api("POST", "/api/v1/devices/tags", {"macs": labs, "add": ["lab"]})
        eq(r.status, 200, "a: tagged lab: %s" % r.body[:200])
        time.sleep(SYNC)
        for mac in labs:  # dropped by the tags' notification: held again
            held(b, mac, md5(R1), "2.0.0", "b holds " + mac)

        # a release uploaded to stable on a: b offers it at once to a device it holds
        time.sleep(1.1)  # b's cached channel rows are past their second: read again next
        check_in(b, up, md5(R1), "2.0.0", None, "b before the upload")
        before = told_metrics(b)
        r2 = a.upload(R2, "3.0.0", "stable").json
        check(r2, "a: 3.0.0 uploaded to stable")
        wait_told(b, before, "not_devices", "the upload")
        check_in(b, up, md5(R1), "2.0.0", "3.0.0", "b right after a's upload")
        before = from_memory(b, before, 1, "the upload")

        # stable set back to 2.0.0 on a, right after b read the channel's row (3.0.0)
        time.sleep(1.1)
        check_in(b, back, md5(R1), "2.0.0", "3.0.0", "b before the channel is set back")
        before = told_metrics(b)
        eq(a.api("PUT", "/api/v1/channels/stable", {"release": r1["id"]}).status, 200,
           "a: stable back to 2.0.0")
        wait_told(b, before, "not_devices", "the channel")
        check_in(b, back, md5(R1), "2.0.0", None, "b right after a set the channel back")
        from_memory(b, before, 1, "the channel set back")
        kept(b, "the channel set back")

        # a rollout of 3.0.0 to tag=lab started on a: b reads it within a second (its
        # rollout engine reads the rollouts once a second) and offers it from memory
        before = told_metrics(b)
        r = a.api("POST", "/api/v1/rollouts", {"release": r2["id"], "waves": "100%",
                                               "target": "tag=lab", "max_failures": "100"})
        eq(r.status, 201, "a: a rollout of 3.0.0 to tag=lab: %s" % r.body[:200])
        rid = r.json["id"]
        wait_told(b, before, "not_devices", "the rollout")
        n, r = 0, None
        t0 = time.time()
        while time.time() - t0 < 5:  # 304 until b read the rollout
            n += 1
            r = ask(b, labs[0], md5(R1), "2.0.0")
            if r.status != 304:
                break
            time.sleep(0.1)
        print("b offered the rollout's release %.2f s after a started it (%d checks)"
              % (time.time() - t0, n))
        eq((r.status, r.headers.get("x-version")), (200, "3.0.0"),
           "b offers the rollout's release (%s)" % r.headers.get("x-updraft-reason"))
        before = from_memory(b, before, n, "the rollout started")

        # paused on a: b stops offering it (to the other lab device) within a second
        eq(a.api("POST", "/api/v1/rollouts/%d/pause" % rid, {}).status, 200, "a: paused")
        wait_told(b, before, "not_devices", "the pause")
        time.sleep(1.2)
        check_in(b, labs[1], md5(R1), "2.0.0", None, "b, after a paused the rollout")
        from_memory(b, before, 1, "the rollout paused")
        kept(b, "the rollout paused")

        # a release deleted on a clears it from the rows of the devices offered it (or
        # running or holding it): b drops those (the notification names them) and its read
        # caches, and keeps the others
        r3 = a.upload(R3, "4.0.0", "beta").json
        check(r3, "a: 4.0.0 uploaded to beta")
        ran = "5C:CF:7F:DC:00:05"
        eq(a.api("PUT", "/api/v1/devices/%s/channel" % ran, {"channel": "beta"}).status, 200,
           "a: a device on beta")
        time.sleep(SYNC)
        check_in(b, ran, md5(R1), "2.0.0", "4.0.0", "b offers beta's 4.0.0")
        eq(a.api("PUT", "/api/v1/channels/beta", {"release": r1["id"]}).status, 200,
           "a: beta set to 2.0.0 (4.0.0 on no channel)")
        wait_event(b, ran, "download-completed")
        time.sleep(SYNC)  # b's writer recorded the offer: the row names 4.0.0
        before = told_metrics(b)
        check(a.api("DELETE", "/api/v1/releases/%d" % r3["id"]).status in (200, 204),
              "a: 4.0.0 deleted")
        after = wait_told(b, before, "not_devices", "the delete")
        eq(after.get(TOLD % "devices", 0) - before.get(TOLD % "devices", 0), 1,
           "the delete named the device offered 4.0.0")
        for name in (CLEARS, TOLD % "anything"):
            eq(after.get(name, 0) - before.get(name, 0), 0, "the delete: b's %s" % name)
        check_in(b, ran, md5(R1), "2.0.0", None, "b, after the delete of its offer")
        eq(told_metrics(b).get(FROM_DB, 0) - after.get(FROM_DB, 0), 1,
           "the delete: b read the row of the device offered 4.0.0 again")
        kept(b, "the delete")
    finally:
        stop_both(a, b)


GROUPS = {"hop": t_hop, "admin": t_admin, "fleet": t_fleet}

if __name__ == "__main__":
    t.run_group(GROUPS)
