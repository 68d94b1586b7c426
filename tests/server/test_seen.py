#!/usr/bin/env python3
"""The last-seen time of a device (PostgreSQL: a narrow table of its own, device_seen,
store_pg.c migration 19; SQLite: a column of the devices row), against the real `updraft
serve` (SQLite, and PostgreSQL in the pg variant):

  again    a routine check-in (nothing but the time changes) moves the device to the top
           of the Devices order by last seen; a device deleted, then seen again, is a new
           row with its new last-seen time, listed where that time puts it
  migrate  a database at schema 18 (PostgreSQL: last_seen_ms a column of devices, no
           device_seen) is migrated by the next server: every device keeps its last-seen
           time and the listing its order
  counts   a filter on the device's facts and its last-seen time counts (total) the
           devices it lists, as the time's one bound leaves few or many devices out
           (PostgreSQL counts those it leaves out when they are few, store_devsql.c
           count_both: both of its ways)

usage: test_seen.py UPDRAFT_BINARY FIRMWARE_DIR GROUP"""
import time
import urllib.parse

import test_server as t
from test_server import Server, check, eq

MACS = ["5C:CF:7F:5E:00:%02X" % i for i in range(6)]


def seen_check(srv, mac):
    """One check of an ESP8266 device on 1.0.0 with nothing to offer it (a 304)."""
    r = srv.raw(t.esp8266_request(srv.port, mac=mac, version="1.0.0"))
    eq(r.status, 304, "check of %s: 304 (%s)" % (mac, r.headers.get("x-updraft-reason")))
    time.sleep(0.02)  # a time of its own for each check


def listing(srv, **q):
    r = srv.api("GET", "/api/v1/devices?" + urllib.parse.urlencode(dict(q, limit=100)))
    eq(r.status, 200, "GET devices %r: %s" % (q, r.body[:300]))
    return (r.json or {}).get("devices", [])


def order(srv, **q):
    return [d["mac"] for d in listing(srv, **q)]


def seen_of(srv):
    return {d["mac"]: d["last_seen"] for d in listing(srv)}


def t_again():
    srv = Server()
    try:
        for mac in MACS:
            seen_check(srv, mac)
        eq(order(srv), MACS[::-1], "newest first")
        eq(order(srv, sort="last_seen"), MACS, "oldest first")
        before = srv.api("GET", "/api/v1/devices/" + MACS[0]).json
        n_events = len(before["history"])
        # the same check again: routine (the row holds its facts), only the time moves
        seen_check(srv, MACS[0])
        after = srv.api("GET", "/api/v1/devices/" + MACS[0]).json
        check(after["last_seen"] > before["last_seen"],
              "a routine check moves last_seen: %r then %r" % (before["last_seen"],
                                                               after["last_seen"]))
        eq(len(after["history"]), n_events, "and writes no event")
        eq(order(srv), [MACS[0]] + MACS[:0:-1], "the device seen last is first")
        eq(order(srv, sort="last_seen")[-1], MACS[0], "and last oldest first")
        # a page after a cursor (keyset) and a filter on the time see the same
        first = srv.api("GET", "/api/v1/devices?limit=2").json
        rest = order(srv, after=first["next"])
        eq([d["mac"] for d in first["devices"]] + rest, [MACS[0]] + MACS[:0:-1],
           "pages after a cursor")
        # deleted, then seen again: a new row, seen now
        gone = MACS[3]
        eq(srv.api("DELETE", "/api/v1/devices/" + gone).status, 200, "deleted")
        eq(srv.api("GET", "/api/v1/devices/" + gone).status, 404, "gone")
        check(gone not in order(srv), "not listed")
        seen_check(srv, gone)
        d = srv.api("GET", "/api/v1/devices/" + gone)
        eq(d.status, 200, "seen again: a row")
        check(d.json["last_seen"] > after["last_seen"] and
              d.json["first_seen"] == d.json["last_seen"],
              "first and last seen now: %r" % d.json)
        eq(order(srv)[0], gone, "first newest first")
        seen_check(srv, gone)  # and routine again
        eq(order(srv)[0], gone, "still first")
        r = srv.api("GET", "/api/v1/devices?" + urllib.parse.urlencode(
            {"filter": "seen<1h", "limit": 100}))
        eq(r.status, 200, "filter seen<1h: %s" % r.body[:200])
        eq(sorted(x["mac"] for x in r.json["devices"]), sorted(MACS), "all seen within the hour")
    finally:
        srv.stop()
    check("device-memory-mismatch" not in srv.stderr, "the memory followed the database")


def t_migrate():
    srv = Server()
    try:
        for mac in MACS:
            seen_check(srv, mac)
        seen_check(srv, MACS[1])
        want = seen_of(srv)
        want_order = order(srv)
    finally:
        srv.stop()
    if srv.db:
        # schema 18's shape: last_seen_ms a column of the wide row, indexed with the MAC
        srv.sql("ALTER TABLE devices ADD COLUMN last_seen_ms BIGINT NOT NULL DEFAULT 0",
                "UPDATE devices d SET last_seen_ms=s.last_seen_ms FROM device_seen s "
                "WHERE s.mac=d.mac",
                "DROP TABLE device_seen",
                "CREATE INDEX devices_seen_mac ON devices(last_seen_ms, mac COLLATE \"C\") "
                "INCLUDE (family, version, tool, tags)",
                "UPDATE updraft_schema SET version=18 WHERE part='store'")
    else:
        srv.sql("PRAGMA user_version=18")
    again = Server(data=srv.data)
    try:
        eq(seen_of(again), want, "every device keeps its last-seen time")
        eq(order(again), want_order, "and its place in the order")
        if srv.db:
            eq(t.pgcluster.psql(srv.db, "SELECT version FROM updraft_schema WHERE "
                                        "part='store'").strip(), "19", "schema 19")
            eq(t.pgcluster.psql(srv.db, "SELECT count(*) FROM information_schema.columns "
                                        "WHERE table_name='devices' AND "
                                        "column_name='last_seen_ms'").strip(), "0",
               "the column is gone from devices")
        seen_check(again, MACS[2])
        eq(order(again)[0], MACS[2], "a check after the migration moves the device first")
    finally:
        again.stop()
    check("device-memory-mismatch" not in again.stderr, "the memory followed the database")


def seen_version(srv, mac, version):
    r = srv.raw(t.esp8266_request(srv.port, mac=mac, version=version))
    check(r.status in (200, 304), "check of %s on %s: %d" % (mac, version, r.status))


def t_counts():
    macs = ["5C:CF:7F:5E:01:%02X" % i for i in range(16)]
    ver = {m: "1.0.0" if i < 8 else "1.1.0" for i, m in enumerate(macs)}
    srv = Server()
    try:
        for m in macs:
            seen_version(srv, m, ver[m])
        # every check written (the writer's batch) before the times are set under it
        deadline = time.time() + 10
        while len(listing(srv)) < len(macs) and time.time() < deadline:
            time.sleep(0.05)
        eq(len(listing(srv)), len(macs), "every device listed")
        now = int(time.time() * 1000)
        day = 24 * 3600 * 1000

        def age(old):
            """old devices last seen 2 days ago, the rest now (ANALYZE: PostgreSQL's
            idea of device_seen's size, 16 rows: the probe of count_both goes to 3)"""
            listed = ",".join(["''"] + ["'%s'" % m for m in old])
            srv.set_seen(now - 2 * day, "mac IN (%s)" % listed)
            srv.set_seen(now, "mac NOT IN (%s)" % listed)
            srv.sql("ANALYZE")

        def expect(flt, want, what):
            r = srv.api("GET", "/api/v1/devices?" + urllib.parse.urlencode(
                {"filter": flt, "limit": 100}))
            eq(r.status, 200, "%s: %s" % (flt, r.body[:200]))
            got = sorted(d["mac"] for d in r.json["devices"])
            eq(got, sorted(want), "%s (%s): the devices" % (flt, what))
            eq(r.json["total"], len(want), "%s (%s): total" % (flt, what))

        # 2 old: few left out by seen<24h (counted apart), many by seen>24h
        old = [macs[0], macs[9]]
        age(old)
        expect("version=1.0.0 seen<24h", [m for m in macs[:8] if m not in old], "2 old")
        expect("version=1.1.0 seen>24h", [macs[9]], "2 old")
        expect("version=1.1.0 seen>24h seen<30d", [macs[9]], "2 old, two bounds")
        # 14 old: many left out by seen<24h, few by seen>24h (counted apart)
        old = macs[:7] + macs[8:15]
        age(old)
        expect("version=1.0.0 seen<24h", [macs[7]], "14 old")
        expect("version=1.1.0 seen>24h", macs[8:15], "14 old")
        expect("version=1.1.0 seen<24h", [macs[15]], "14 old")
        # none old: nothing left out by seen<24h
        age([])
        expect("version=1.1.0 seen<24h", macs[8:], "none old")
        expect("version=1.0.0 seen>1h", [], "none old")
    finally:
        srv.stop()


GROUPS = {"again": t_again, "migrate": t_migrate, "counts": t_counts}

if __name__ == "__main__":
    t.run_group(GROUPS)
