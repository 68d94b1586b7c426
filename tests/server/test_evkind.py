#!/usr/bin/env python3
"""The events of one kind across devices (issue 13: the audit view, `GET
/api/v1/events?kind=K`, `updraft events --kind K`), read by the index of store migration
17 (events_kind), against the real `updraft serve` (SQLite, and PostgreSQL in the pg
variant).

usage: test_evkind.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: list    every kind's events are the unfiltered log's events of that kind, newest
               first, in pages (before) and tails (after) as in the log, with a device;
               the CLI prints the same
       schema  the index is there, the plan of the server's statement reads it, and a
               database of the schema before (16) gets it when the server starts"""
import json
import os
import time
import urllib.parse

import pgcluster
import test_server as t
from test_server import Server, check, eq

KINDS = ["check", "check", "offered", "download-started", "download-completed", "updated",
         "declined"]
RARE = "failed"  # one event in 97
N = 2000
MACS = ["5C:CF:7F:00:10:%02X" % i for i in range(40)]


def fill(srv):
    """Events of real requests (the release's upload, device checks), then N more written
    into the store's table (the kinds of a fleet's log, one in 97 `failed`)."""
    r = srv.upload(t.arduino_bin(seed=5, irom=60000), "2.0.0", "stable")
    eq(r.status, 201, "upload the release: %s" % r.body[:200])
    for mac in MACS[:10]:
        srv.raw(t.esp8266_request(srv.port, mac=mac, free=4096))  # declined: no room
    rows = []
    now = int(time.time() * 1000)  # within --keep-events: a restart prunes nothing
    for k in range(N):
        kind = RARE if k % 97 == 96 else KINDS[k % len(KINDS)]
        rows.append("(%d, '%s', '%s', NULL, NULL, 'event %d')" % (now - (N - k) * 1000,
                                                                  MACS[k % len(MACS)], kind, k))
    for i in range(0, len(rows), 400):
        srv.sql("INSERT INTO events(at_ms, mac, kind, release_id, bytes, detail) VALUES " +
                ",".join(rows[i:i + 400]))
    return r


def get(srv, **q):
    r = srv.api("GET", "/api/v1/events?" + urllib.parse.urlencode(q))
    eq(r.status, 200, "GET /api/v1/events?%s" % urllib.parse.urlencode(q))
    return r.json.get("events", []) if r.json else []


def ids(evs):
    return [e["id"] for e in evs]


def t_list():
    srv = Server()
    try:
        fill(srv)
        log = get(srv, limit=10000)
        check(len(log) >= N + 10, "the log holds the events: %d" % len(log))
        kinds = sorted(set(e["kind"] for e in log)) + ["rollout-paused"]  # one not there
        check(RARE in kinds and "declined" in kinds and "release-added" in kinds,
              "the log has the kinds of the test: %r" % kinds)
        for kind in kinds:
            want = [e for e in log if e["kind"] == kind]
            got = get(srv, kind=kind, limit=10000)
            eq(got, want, "kind=%s: the log's events of that kind, newest first" % kind)
            # pages of 7 by before=, as the CLI and the dashboard page
            pages, before = [], None
            for _ in range(len(want) // 7 + 2):
                q = {"kind": kind, "limit": 7}
                if before:
                    q["before"] = before
                page = get(srv, **q)
                if not page:
                    break
                check(len(page) <= 7, "kind=%s: a page of at most 7" % kind)
                pages += page
                before = page[-1]["id"]
            eq(ids(pages), ids(want), "kind=%s: the pages walk the kind's events" % kind)
            # the tail after an event in the middle, oldest first, at most limit
            if want:
                mid = log[len(log) // 2]["id"]
                tail = [e for e in reversed(want) if e["id"] > mid][:5]
                eq(ids(get(srv, kind=kind, after=mid, limit=5)), ids(tail),
                   "kind=%s: the tail after %d" % (kind, mid))
        # the kind of one device: its own index, the same answer
        mac = MACS[96 % len(MACS)]
        eq(ids(get(srv, mac=mac, kind=RARE, limit=10000)),
           ids([e for e in log if e["kind"] == RARE and e["mac"] == mac]),
           "mac and kind: the device's events of that kind")
        # updraft events --kind K prints the same events (--json: the API's answer)
        env = dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port,
                   UPDRAFT_TOKEN=t.TOKEN)
        p = t.subprocess.run([t.BIN, "events", "--kind", RARE, "--limit", "15", "--json"],
                             env=env, capture_output=True, text=True, timeout=60)
        eq(p.returncode, 0, "updraft events --kind: exit status (%s)" % p.stderr)
        try:
            cli = json.loads(p.stdout)["events"]
        except (ValueError, KeyError):
            cli = None
        eq(ids(cli or []), ids([e for e in log if e["kind"] == RARE][:15]),
           "updraft events --kind %s --limit 15 --json" % RARE)
        p = t.subprocess.run([t.BIN, "events", "--kind", RARE, "--limit", "3"], env=env,
                             capture_output=True, text=True, timeout=60)
        lines = [ln for ln in p.stdout.splitlines() if RARE in ln]
        eq(len(lines), 3, "updraft events --kind %s --limit 3: three lines: %r" % (RARE, p.stdout))
    finally:
        srv.stop()


# The server's statement for a kind's newest events (Q_EV_LIST_KIND in store_sqlite.c and
# store_pg.c), with values
KIND_SQL = ("SELECT id, at_ms, mac, kind, release_id, bytes, detail, actor, source FROM events "
            "WHERE kind='failed' AND id<9223372036854775807 ORDER BY id DESC LIMIT 50")


def query(srv, q):
    """Rows of q on the server's database (as text lines)."""
    if srv.db:
        return [ln for ln in pgcluster.psql(srv.db, q).splitlines() if ln.strip()]
    import sqlite3
    con = sqlite3.connect(os.path.join(srv.data, "updraft.db"))
    try:
        return ["|".join(str(v) for v in r) for r in con.execute(q).fetchall()]
    finally:
        con.close()


def plan(srv):
    if srv.db:  # a small table: tell the planner a scan is dear, as it is at scale
        return " / ".join(query(srv, "SET enable_seqscan = off; EXPLAIN " + KIND_SQL))
    return " / ".join(query(srv, "EXPLAIN QUERY PLAN " + KIND_SQL))


def has_index(srv):
    if srv.db:
        return query(srv, "SELECT indexdef FROM pg_indexes WHERE indexname='events_kind'")
    return query(srv, "SELECT sql FROM sqlite_master WHERE name='events_kind'")


def t_schema():
    srv = Server()
    try:
        fill(srv)
        idx = has_index(srv)
        check(len(idx) == 1 and "kind" in idx[0], "the index events_kind: %r" % idx)
        p = plan(srv)
        print("plan of the kind's statement: " + p, flush=True)
        check("events_kind" in p, "the kind's statement reads events_kind: %s" % p)
        want = ids(get(srv, kind=RARE, limit=10000))
        # the schema before migration 17: without the index, at version 16
        srv.stop()
        srv.sql("DROP INDEX IF EXISTS events_kind")
        if srv.db:
            srv.sql("UPDATE updraft_schema SET version=16 WHERE part='store'")
        else:
            srv.sql("PRAGMA user_version=16")
        check("events_kind" not in plan(srv), "without the index, the plan does not use it")
        srv2 = Server(data=srv.data)
        try:
            idx = has_index(srv2)
            check(len(idx) == 1, "the server made events_kind on a database at version 16")
            ver = query(srv2, "SELECT version FROM updraft_schema WHERE part='store'"
                        if srv2.db else "PRAGMA user_version")
            check(ver and int(ver[0]) >= 17, "the schema version after the start: %r" % ver)
            eq(ids(get(srv2, kind=RARE, limit=10000)), want, "the same events of the kind")
        finally:
            srv2.stop()
    finally:
        if srv.proc.poll() is None:
            srv.stop()


GROUPS = {"list": t_list, "schema": t_schema}

if __name__ == "__main__":
    t.run_group(GROUPS)
