#!/usr/bin/env python3
"""Moving a SQLite installation into PostgreSQL (`updraft db migrate`, docs/scaling.md
"Moving from SQLite"), and two servers on one database. The real binary: a server on
SQLite with a simulated fleet, a rollout and tokens is stopped, migrated, and a server on
the database must answer the same devices the same way. ctest pg.dbmigrate.*.

usage: test_dbmigrate.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: migrate refuse failed twoservers backup"""
import hashlib
import os
import sqlite3
import subprocess
import sys
import time

import pgcluster
import test_server as t
from test_rollout import OLD, NEW, NEWER, Device, create, rounds, show, sim
from test_server import Server, arduino_bin, check, eq, esp8266_request, md5

# what an installation holds at least (every table of its database is compared)
TABLES = ("releases", "release_hashes", "release_gzip", "channels", "channel_chips",
          "channel_keys", "devices", "api_tokens", "rollouts", "rollout_devices", "events")


def tables(data):
    """Every table of the SQLite database in data."""
    db = sqlite3.connect(os.path.join(data, "updraft.db"))
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                          "AND name NOT LIKE 'sqlite%'")]
    finally:
        db.close()
    check(set(TABLES) <= set(names), "the database has the tables of an installation: %r" % names)
    return names


def need_pg(group):
    if pgcluster.state() is None:
        print("SKIPPED: needs PostgreSQL: run with UPDRAFT_TEST_PG (ctest pg.dbmigrate.%s)" % group)
        sys.exit(77)


def sqlite_server(extra=()):
    """A server on SQLite, whatever this run's backend."""
    saved = os.environ.pop("UPDRAFT_TEST_PG")
    try:
        return Server(extra=extra)
    finally:
        os.environ["UPDRAFT_TEST_PG"] = saved


def fresh_db(name):
    """An empty database of its own."""
    return pgcluster.database_url(os.path.join("/nonexistent", name, str(time.time())))


def migrate(data, url):
    p = subprocess.run([t.BIN, "db", "migrate", "--from", data, "--to", url],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def sqlite_counts(data):
    db = sqlite3.connect(os.path.join(data, "updraft.db"))
    try:
        return {tb: db.execute("SELECT count(*) FROM %s" % tb).fetchone()[0]
                for tb in tables(data)}
    finally:
        db.close()


def pg_counts(url, names):
    return {tb: int(pgcluster.psql(url, "SELECT count(*) FROM %s" % tb).strip()) for tb in names}


def answers(srv, devs):
    """What srv answers each device now: status, offered version and MD5."""
    out = {}
    for d in devs:
        r = srv.raw(esp8266_request(srv.port, mac=d.mac, md5sum=md5(d.img), size=len(d.img),
                                    version=d.ver))
        out[d.mac] = (r.status, r.headers.get("x-version"), r.headers.get("x-md5"),
                      hashlib.sha256(r.body).hexdigest() if r.status == 200 else None)
    return out


def device_list(srv):
    r = srv.api("GET", "/api/v1/devices?limit=1000")
    eq(r.status, 200, "device list")
    return sorted((r.json or {}).get("devices", []), key=lambda d: d.get("mac"))


def rollout(srv, rid):
    """The rollout as the API shows it, without what its evaluator will do next (a server
    says it after its first look)."""
    r = show(srv, rid)
    r.pop("next", None)
    return r


def token_list(srv):
    """The tokens, without the bootstrap one's last use (each server uses it)."""
    r = srv.api("GET", "/api/v1/tokens")
    eq(r.status, 200, "token list")
    toks = (r.json or {}).get("tokens", [])
    return [{k: v for k, v in tk.items() if tk.get("name") != "admin-token" or "last" not in k}
            for tk in toks]


def settle(srv):
    """Wait until the writer thread has written what the server answered (the events
    count stops moving)."""
    last, same = -1, 0
    deadline = time.time() + 10
    while same < 3 and time.time() < deadline:
        n = len(srv.api("GET", "/api/v1/events?limit=1000").json.get("events", []))
        same = same + 1 if n == last else 0
        last = n
        time.sleep(0.2)


def installation():
    """A server on SQLite with what an installation has: a simulated fleet, devices that
    run a release and a rollout of the next one in its first wave, a pin, a device's
    channel, tags, a named token, adoption history. Returns (server, devices, rollout id,
    token)."""
    a = sqlite_server(["--adoption-every", "1s"])
    a.upload(OLD, "1.0.0", "stable")
    rc, out, err = sim(a, "--devices", "25", "--interval", "1s", "--duration", "2s")
    check(rc in (0, 1), "updraft sim ran: %s" % err[-300:])
    devs = [Device(a, 0x500 + i) for i in range(20)]
    for d in devs:
        eq(d.check().status, 304, "device runs the channel's release")
    new = a.upload(NEW, "2.0.0").json
    beta = a.upload(NEWER, "3.0.0", "beta").json
    ro = create(a, {"release": new["id"], "waves": "30%,100%", "soak": "1h"})
    deadline = time.time() + 10
    while show(a, ro["id"]).get("wave") != 1 and time.time() < deadline:
        time.sleep(0.1)
    rounds(devs, lambda: False, timeout=1.5)  # wave 1 installs 2.0.0
    eq(a.api("POST", "/api/v1/devices/%s/pin" % devs[0].mac, {"release": beta["id"]}).status,
       200, "a pin")
    eq(a.api("PUT", "/api/v1/devices/%s/channel" % devs[1].mac, {"channel": "beta"}).status,
       200, "a device on beta")
    eq(a.api("POST", "/api/v1/devices/%s/tags" % devs[2].mac, {"add": ["attic", "lab"]}).status,
       200, "tags")
    tok = a.api("POST", "/api/v1/tokens", {"name": "ops", "role": "operator"}).json["token"]
    check(beta["id"] > 0 and ro.get("id"), "releases and a rollout made")
    return a, devs, ro["id"], tok


def t_migrate():
    """The installation moved: every table's rows, every blob, and a server on the
    database answers every device as the SQLite one did; a second run is refused."""
    need_pg("migrate")
    a, devs, rid, tok = installation()
    url = fresh_db("migrate")
    b = None
    try:
        answers(a, devs)  # offers made now are open in both
        settle(a)
        want = answers(a, devs)
        settle(a)
        check(sum(1 for v in want.values() if v[0] == 200) >= 2 and
              sum(1 for v in want.values() if v[0] == 304) >= 2,
              "some devices are offered a release, others not: %r" % want)
        want_devs = device_list(a)
        want_ro = rollout(a, rid)
        want_tokens = token_list(a)
        a.stop()
        counts = sqlite_counts(a.data)
        rc, out, err = migrate(a.data, url)
        eq(rc, 0, "db migrate: %s" % err)
        for tb in counts:
            check(("  %-16s %10d row" % (tb, counts[tb])) in out,
                  "the summary says %d rows of %s: %s" % (counts[tb], tb, out))
        eq(pg_counts(url, counts), counts, "every table has its rows in the database")
        check(counts["devices"] >= 45 and counts["events"] > 45 and
              counts["rollout_devices"] > 0 and counts.get("adoption", 0) > 0,
              "a fleet moved: %r" % counts)
        db = sqlite3.connect(os.path.join(a.data, "updraft.db"))
        files = {r[0] for r in db.execute("SELECT sha256 FROM releases UNION "
                                          "SELECT sha256 FROM release_gzip")}
        db.close()
        check({hashlib.sha256(x).hexdigest() for x in (OLD, NEW, NEWER)} <= files and
              counts["release_gzip"] == 3, "the releases and their gzip copies: %r" % files)
        eq(set(pgcluster.psql(url, "SELECT sha256 FROM blobs").split()), files,
           "every release's firmware (and gzip copy) is a blob of the database")
        check("firmware                  6 files" in out, "the summary counts them: %s" % out)
        # a server on the database with a data directory of its own
        b = Server(extra=["--db", url])
        eq(device_list(b), want_devs, "the same device list")
        eq(rollout(b, rid), want_ro, "the same rollout, its waves and their devices")
        eq(token_list(b), want_tokens, "the same tokens")
        eq(answers(b, devs), want, "the same answer to every device")
        r = b.api("GET", "/api/v1/devices?limit=1", token=tok)
        eq(r.status, 200, "the named token works on the new server")
        eq(b.api("POST", "/api/v1/tokens", {"name": "x", "role": "admin"}, token=tok).status,
           403, "with its role")
        # ids go on after the moved ones
        top = int(pgcluster.psql(url, "SELECT max(id) FROM releases").strip())
        r = b.upload(arduino_bin(seed=404), "4.0.0")
        eq((r.status, (r.json or {}).get("id")), (201, top + 1), "the next release id")
        # a second run: refused, nothing changed
        before = pg_counts(url, counts)
        rc, out, err = migrate(a.data, url)
        eq(rc, 1, "a second run is refused")
        check("is not empty: it holds rows (releases: " in err and
              "nothing was moved" in err, "and says why: %r" % err)
        eq(pg_counts(url, counts), before, "the database is as it was")
    finally:
        if b:
            b.stop()


def t_refuse():
    """What db migrate refuses, with nothing written: a data directory a server uses,
    wrong options, a directory that is no installation, a database it cannot reach."""
    need_pg("refuse")
    a = sqlite_server()
    url = fresh_db("refuse")
    try:
        a.upload(OLD, "1.0.0", "stable")
        rc, out, err = migrate(a.data, url)
        eq(rc, 1, "a data directory in use is refused")
        check("a server uses %s (process %d): stop it first" % (a.data, a.proc.pid) in err,
              "the refusal names the server: %r" % err)
        eq(pgcluster.psql(url, "SELECT to_regclass('releases') IS NULL").strip(), "t",
           "nothing was written to the database")
    finally:
        a.stop()
    for args, code, words in (
            ([], 2, "--from DIR is missing"),
            (["--from", a.data], 2, "--to URL is missing"),
            (["--from", a.data, "--to", "/var/lib/x.db"], 2,
             "--to needs a PostgreSQL URL like postgres://"),
            (["--from", a.data, "--to", url, "--force"], 2, "--force"),
            (["--from", "/nonexistent/dir", "--to", url], 1, "no data directory /nonexistent/dir"),
            (["--from", os.path.dirname(a.data), "--to", url], 1,
             "holds no updraft.db: it is not the data directory of an updraft server on SQLite")):
        p = subprocess.run([t.BIN, "db", "migrate"] + args, capture_output=True, text=True,
                           timeout=60)
        eq(p.returncode, code, "db migrate %r: exit status" % args)
        check(words in p.stderr, "db migrate %r says %r: %r" % (args, words, p.stderr))
    st = pgcluster.state()
    bad = "postgresql://updraft:s3cret@/nosuchdb?host=%s&port=%d" % (st["root"], st["port"])
    rc, out, err = migrate(a.data, bad)
    eq(rc, 1, "a database that is not there")
    check("cannot connect to the database" in err and "--to" in err and "s3cret" not in err,
          "names it without the password, in this command's words: %r" % err)
    p = subprocess.run([t.BIN, "db", "migrat"], capture_output=True, text=True)
    check(p.returncode == 2 and "did you mean 'migrate'" in p.stderr, "a typo: %r" % p.stderr)
    p = subprocess.run([t.BIN, "db", "migrate", "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "--from DIR" in p.stdout, "help: %r" % p.stdout)
    eq(pgcluster.psql(url, "SELECT to_regclass('releases') IS NULL").strip(), "t",
       "still nothing in the database")


def t_failed():
    """A run that fails moves nothing: a damaged firmware file is found after every table
    was copied, and the transaction leaves the database empty; repaired, the next run
    moves everything."""
    need_pg("failed")
    a = sqlite_server()
    a.upload(OLD, "1.0.0", "stable")
    a.upload(NEW, "2.0.0")
    for d in [Device(a, 0x600 + i) for i in range(5)]:
        d.check()
    settle(a)
    a.stop()
    url = fresh_db("failed")
    sha = hashlib.sha256(NEW).hexdigest()
    path = os.path.join(a.data, "blobs", "sha256", sha[:2], sha)
    good = open(path, "rb").read()
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(bytes([good[100] ^ 0xFF]))
    rc, out, err = migrate(a.data, url)
    eq(rc, 1, "a damaged firmware file fails the run")
    check("the firmware file %s is damaged: its SHA-256 is" % path in err and
          "nothing was moved" in err, "and says which and what to do: %r" % err)
    empty = dict({tb: 0 for tb in tables(a.data)}, api_tokens=1)
    eq(pg_counts(url, empty), empty, "no row is left in the database")
    eq(pgcluster.psql(url, "SELECT name, key_id IS NULL FROM api_tokens").strip(), "admin-token|t",
       "but the bootstrap token's row every schema has")
    eq(pgcluster.psql(url, "SELECT count(*) FROM blobs").strip(), "0", "nor a blob")
    os.unlink(path)
    rc, out, err = migrate(a.data, url)
    eq(rc, 1, "a missing firmware file fails the run")
    check("cannot be read" in err and path in err, "and says which: %r" % err)
    with open(path, "wb") as f:
        f.write(good)
    counts = sqlite_counts(a.data)
    rc, out, err = migrate(a.data, url)
    eq(rc, 0, "repaired, the next run moves it: %s" % err)
    eq(pg_counts(url, counts), counts, "all of it")


def wait_for(what, cond, limit=1.0):
    """Seconds until cond() holds (checked against limit)."""
    t0 = time.time()
    while not cond() and time.time() - t0 < 5:
        time.sleep(0.01)
    lag = time.time() - t0
    check(lag < limit, "%s within %.1f s (%.3f s)" % (what, limit, lag))
    return lag


def t_twoservers():
    """Two servers on one database made by db migrate: what an operator changes on one
    (a release, a channel, a pin, a device's channel, a retirement) the other one
    answers within a second."""
    need_pg("twoservers")
    a = sqlite_server()
    old = a.upload(OLD, "1.0.0", "stable").json
    devs = [Device(a, 0x700 + i) for i in range(4)]
    for d in devs:
        d.check()
    settle(a)
    a.stop()
    url = fresh_db("twoservers")
    rc, out, err = migrate(a.data, url)
    eq(rc, 0, "db migrate: %s" % err)
    one = two = None
    try:
        one = Server(extra=["--db", url])
        two = Server(extra=["--db", url])

        def offer(srv, d, version="1.0.0"):
            r = srv.raw(esp8266_request(srv.port, mac=d.mac, md5sum=md5(OLD), size=len(OLD),
                                        version=version))
            return r.headers.get("x-version") if r.status == 200 else r.status

        for d in devs:
            eq(offer(two, d), 304, "both serve the moved installation: %s is current" % d.mac)
        # each change below is made on one while two has just read what it changes (its
        # read cache holds it for up to a second by itself)
        new = one.upload(NEW, "2.0.0", "stable").json
        wait_for("a release uploaded on one is offered by two",
                 lambda: offer(two, devs[0]) == "2.0.0")
        eq(offer(two, devs[1]), "2.0.0", "to every device of the channel")
        eq(one.api("PUT", "/api/v1/channels/stable", {"release": old["id"]}).status, 200,
           "channel set back")
        wait_for("a channel set on one", lambda: offer(two, devs[1]) == 304)
        eq(offer(two, devs[2]), 304, "before the pin")
        eq(one.api("POST", "/api/v1/devices/%s/pin" % devs[2].mac, {"release": new["id"]}).status,
           200, "pin")
        wait_for("a pin set on one", lambda: offer(two, devs[2]) == "2.0.0")
        # a device's channel
        beta = one.upload(NEWER, "3.0.0", "beta").json
        eq(offer(two, devs[3]), 304, "before its channel is set")
        eq(one.api("PUT", "/api/v1/devices/%s/channel" % devs[3].mac, {"channel": "beta"}).status,
           200, "device channel")
        wait_for("a device's channel set on one", lambda: offer(two, devs[3]) == "3.0.0")
        # a release retired on one (its channel's devices get none)
        r = one.api("POST", "/api/v1/releases/%d/retire" % beta["id"], {"force": True})
        eq(r.status, 200, "retire: %r" % r.json)
        wait_for("a release retired on one", lambda: offer(two, devs[3]) == 304)
        # and the other way round
        eq(offer(one, devs[2]), "2.0.0", "one serves the pin")
        eq(two.api("DELETE", "/api/v1/devices/%s/pin" % devs[2].mac).status in (200, 204), True,
           "unpin on two")
        wait_for("an unpin on two", lambda: offer(one, devs[2]) == 304)
    finally:
        for srv in (two, one):
            if srv:
                srv.stop()


def t_backup():
    """updraft backup/restore with --db say what to do instead (docs/operations.md
    "Backup with PostgreSQL"), and what they say works: pg_dump of a database servers use,
    pg_restore into an empty one, and a new server on it answers as the old one."""
    need_pg("backup")
    st = pgcluster.state()
    a = Server()  # on PostgreSQL
    b = None
    try:
        url = a.db
        dest = os.path.join(a.tmp.name, "bk")
        p = subprocess.run([t.BIN, "backup", dest, "--db", url], capture_output=True, text=True)
        eq(p.returncode, 1, "backup --db is refused")
        check("pg_dump --format=custom --file=updraft.dump URL" in p.stderr and
              "pg_restore --dbname=NEWURL updraft.dump" in p.stderr,
              "with the commands to use: %r" % p.stderr)
        check(not os.path.exists(dest), "and writes nothing")
        p = subprocess.run([t.BIN, "restore", dest, "--db", url], capture_output=True, text=True)
        eq(p.returncode, 1, "restore --db is refused")
        check("updraft db migrate --from DATA --to URL" in p.stderr, "says how: %r" % p.stderr)
        p = subprocess.run([t.BIN, "backup", dest, "--data", a.data], capture_output=True,
                           text=True)
        eq(p.returncode, 1, "a backup of a PostgreSQL server's data directory")
        check("keeps only a cache there: back up its database with pg_dump" in p.stderr,
              "says where its data is: %r" % p.stderr)
        # the documented way, while the server runs
        a.upload(OLD, "1.0.0", "stable")
        a.upload(NEW, "2.0.0", "beta")
        devs = [Device(a, 0x800 + i) for i in range(6)]
        for d in devs:
            d.check()
        eq(a.api("PUT", "/api/v1/devices/%s/channel" % devs[0].mac, {"channel": "beta"}).status,
           200, "a device on beta")
        answers(a, devs)  # the offers made now are open in the dump
        settle(a)
        want = answers(a, devs)
        settle(a)
        want_devs = device_list(a)
        dump = os.path.join(a.tmp.name, "updraft.dump")
        p = subprocess.run([os.path.join(st["bindir"], "pg_dump"), "--format=custom",
                            "--file=" + dump, url], capture_output=True, text=True)
        eq(p.returncode, 0, "pg_dump: %s" % p.stderr)
        a.stop()
        new = fresh_db("backup")
        p = subprocess.run([os.path.join(st["bindir"], "pg_restore"), "--dbname=" + new, dump],
                           capture_output=True, text=True)
        eq(p.returncode, 0, "pg_restore into an empty database: %s" % p.stderr)
        b = Server(extra=["--db", new])
        eq(device_list(b), want_devs, "the devices are back as they were")
        eq(answers(b, devs), want, "a server on the restored database answers the same")
    finally:
        if b:
            b.stop()
        if a.proc.poll() is None:
            a.stop()


GROUPS = {"migrate": t_migrate, "refuse": t_refuse, "failed": t_failed,
          "twoservers": t_twoservers, "backup": t_backup}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("FAILED: %d check(s)" % len(t.FAILS))
        sys.exit(1)
    print("ok: group " + t.GROUP)
