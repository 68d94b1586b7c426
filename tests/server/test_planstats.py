#!/usr/bin/env python3
"""The query planner's statistics follow the registry (SQLite; store_sqlite.c
refresh_stats, called by the writer at start and hourly): a database whose tables grew
much since its statistics were gathered (or that never had any: a registry filled while
the server ran, a database made elsewhere) gets them gathered again, within an analysis
limit, so that the Devices page and the filters are planned for the fleet they search;
one that did not change much is left as it is. Against the real `updraft serve`.
PostgreSQL gathers its own (autovacuum): no variant.

usage: test_planstats.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: grow"""
import os
import sqlite3
import tempfile

import test_server as t
from test_server import Server, check, eq

GATHERED = "statistics-gathered"


def add_devices(data, start, n):
    """n devices written into the stopped server's database, as an older server or another
    tool left them."""
    db = sqlite3.connect(os.path.join(data, "updraft.db"))
    db.executemany("INSERT INTO devices(mac, family, version, first_seen_ms, last_seen_ms) "
                   "VALUES (?, 'esp8266', ?, ?, ?)",
                   [("5C:CF:7F:%02X:%02X:%02X" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                     "1.%d.0" % (i % 7), 1700000000000 + i, 1700000000000 + i)
                    for i in range(start, start + n)])
    db.commit()
    db.close()


def stat_rows(data, tbl):
    """What sqlite_stat1 says the table held when its statistics were gathered (None:
    never gathered)."""
    db = sqlite3.connect(os.path.join(data, "updraft.db"))
    try:
        row = db.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = ? AND idx IS NOT NULL",
                         (tbl,)).fetchone()
    except sqlite3.OperationalError:  # no sqlite_stat1 yet
        row = None
    db.close()
    return int(row[0].split()[0]) if row else None


def run(data, what):
    """Start and stop the server on data: did it gather the statistics?"""
    srv = Server(data=data)
    try:
        eq(srv.api("GET", "/api/v1/devices?limit=1&filter=version%3D1.3.0").status, 200,
           what + ": a filtered device page")
    finally:
        srv.stop()
    return GATHERED in srv.stderr


def set_stat_rows(data, tbl, n):
    """Make sqlite_stat1 say tbl held n rows when its statistics were gathered."""
    with sqlite3.connect(os.path.join(data, "updraft.db")) as db:
        db.execute("UPDATE sqlite_stat1 SET stat = ? || substr(stat, instr(stat, ' ')) "
                   "WHERE tbl = ? AND idx IS NOT NULL", (str(n), tbl))


def near(got, want, what):
    """ANALYZE within its limit estimates the row count of a large table."""
    check(got is not None and abs(got - want) <= want // 5,
          "%s: got %r, want about %d" % (what, got, want))


def t_grow():
    with tempfile.TemporaryDirectory(prefix="updraft-test-stats-") as tmp:
        data = os.path.join(tmp, "data")
        check(not run(data, "empty registry"), "an empty registry: nothing gathered")
        eq(stat_rows(data, "devices"), None, "no statistics of the devices yet")
        add_devices(data, 0, 1500)
        check(run(data, "1,500 devices, never gathered"),
              "1,500 devices and no statistics: gathered at start (log '%s')" % GATHERED)
        near(stat_rows(data, "devices"), 1500, "sqlite_stat1 counts the 1,500 devices")
        # the statistics as a smaller or larger registry left them (a server stopping
        # also runs PRAGMA optimize, which may gather them: each case sets them first)
        for then, want, what in ((1200, False, "a fifth fewer"), (1000, False, "a third fewer"),
                                 (2900, False, "nearly twice as many"),
                                 (700, True, "less than half"), (3100, True, "more than twice"),
                                 (1, True, "one device")):
            set_stat_rows(data, "devices", then)
            eq(run(data, "statistics of %d devices" % then), want,
               "1,500 devices, statistics gathered at %d (%s): gathered again" % (then, what))
        add_devices(data, 1500, 2000)
        set_stat_rows(data, "devices", 1500)
        check(run(data, "grown"), "3,500 devices, statistics of 1,500: gathered again")
        near(stat_rows(data, "devices"), 3500, "sqlite_stat1 counts the 3,500 devices")


GROUPS = {"grow": t_grow}

if __name__ == "__main__":
    if t.pgcluster.state() is not None:
        print("SKIPPED: PostgreSQL gathers its statistics itself (autovacuum)")
        raise SystemExit(t.SKIP)
    t.run_group(GROUPS)
