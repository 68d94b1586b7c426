#!/usr/bin/env python3
"""What only the PostgreSQL store has (docs/scaling.md): --db and UPDRAFT_DB, its errors
in the terms of the command line, the schema version table, the refusal of a newer
schema. The real binary on the throwaway cluster of pgcluster.py (ctest pg.store.*).

usage: test_pg.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: options schema"""
import os
import subprocess
import sys
import tempfile

import pgcluster
import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request


def serve(args, env=None, timeout=30):
    with tempfile.TemporaryDirectory(prefix="updraft-test-") as tmp:
        e = dict(os.environ)
        e.pop("UPDRAFT_DB", None)
        e.update(env or {})
        return subprocess.run([t.BIN, "serve", "--listen", "127.0.0.1:0", "--data",
                               os.path.join(tmp, "data")] + args, capture_output=True,
                              text=True, env=e, timeout=timeout)


def t_options():
    st = pgcluster.state()
    if st is None:
        print("SKIPPED: run with UPDRAFT_TEST_PG (ctest pg.store.options)")
        sys.exit(77)
    p = serve(["--db", "/var/lib/x.db"])
    eq(p.returncode, 2, "--db with a file path is a usage error")
    check("needs a PostgreSQL URL like postgres://" in p.stderr and "/var/lib/x.db" in p.stderr,
          "the error says what --db takes: %r" % p.stderr)
    p = serve([], env={"UPDRAFT_DB": "mysql://x"})
    eq(p.returncode, 2, "UPDRAFT_DB with another scheme is a usage error")
    check("--db (or UPDRAFT_DB)" in p.stderr, "the error names both: %r" % p.stderr)
    # a database that is not there: the error names it (without the password) and says
    # what to check
    bad = "postgresql://updraft:s3cret@/nosuchdb?host=%s&port=%d" % (st["root"], st["port"])
    p = serve(["--db", bad])
    eq(p.returncode, 1, "a database that does not exist: exit status 1")
    check("cannot connect to the database" in p.stderr and "nosuchdb" in p.stderr,
          "the error names the database: %r" % p.stderr)
    check("s3cret" not in p.stderr and ":***@" in p.stderr,
          "the password is not shown: %r" % p.stderr)
    check("--db or UPDRAFT_DB" in p.stderr, "and says what to check: %r" % p.stderr)
    # UPDRAFT_DB alone works: a release uploaded is served
    url = pgcluster.database_url(tempfile.mktemp(prefix="envdb"))
    env = dict(os.environ)
    os.environ["UPDRAFT_DB"] = url
    del os.environ["UPDRAFT_TEST_PG"]  # Server() gives no --db then
    try:
        srv = Server()
    finally:
        os.environ.clear()
        os.environ.update(env)
    try:
        img = arduino_bin(seed=7)
        eq(srv.upload(img, "1.0", "stable").status, 201, "upload on UPDRAFT_DB")
        r = srv.raw(esp8266_request(srv.port))
        eq(r.status, 200, "served")
    finally:
        srv.stop()
    n = pgcluster.psql(url, "SELECT count(*) FROM releases").strip()
    eq(n, "1", "the release is in the database UPDRAFT_DB names")
    check(not os.path.exists(os.path.join(srv.data, "updraft.db")),
          "no SQLite database in the data directory")


def t_schema():
    if pgcluster.state() is None:
        print("SKIPPED: run with UPDRAFT_TEST_PG (ctest pg.store.schema)")
        sys.exit(77)
    srv = Server()
    srv.stop()
    got = pgcluster.psql(srv.db, "SELECT version FROM updraft_schema").split()
    eq(len(got), 1, "one schema version row")
    known = int(got[0])
    check(known >= 8, "schema version %d" % known)
    # the same server again: nothing to migrate, starts
    srv2 = Server(data=srv.data)
    srv2.stop()
    pgcluster.psql(srv.db, "UPDATE updraft_schema SET version=%d" % (known + 1))
    p = subprocess.run([t.BIN, "serve", "--listen", "127.0.0.1:0", "--data", srv.data, "--db",
                        srv.db], capture_output=True, text=True, timeout=30)
    eq(p.returncode, 1, "a newer schema is refused")
    check("has schema version %d, newer than this updraft knows (%d): run a newer updraft"
          % (known + 1, known) in p.stderr, "the refusal says why: %r" % p.stderr)
    eq(pgcluster.psql(srv.db, "SELECT version FROM updraft_schema").strip(), str(known + 1),
       "the newer schema is left as it was")


GROUPS = {"options": t_options, "schema": t_schema}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("FAILED: %d check(s)" % len(t.FAILS))
        sys.exit(1)
    print("ok: group " + t.GROUP)
