#!/usr/bin/env python3
"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temporary directory,
reachable only through a Unix socket in that directory (no TCP listener), for the length
of a test run. No mocks: Debian's `postgresql` binaries, the real server.

usage: pgcluster.py start STATE_DIR    start a cluster, write STATE_DIR/state.json
       pgcluster.py stop STATE_DIR     stop it and remove its directory

initdb refuses to run as root: as root (CI) the cluster runs as the unprivileged user
`nobody` (runuser/setpriv). When no PostgreSQL binaries are installed, `start` writes
the reason into the state file and exits 0: every test that needs the cluster then
reports itself SKIPPED with that reason (exit 77).

Tests use it through the environment (tests/server/CMakeLists.txt): UPDRAFT_TEST_PG=
STATE_DIR makes `database_url(key)` give each test server a database of its own.
"""
import glob
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SUPERUSER = "updraft"


def find_bin_dir():
    """The directory of initdb/pg_ctl/postgres: PATH first, then Debian's versioned dirs."""
    path = shutil.which("initdb")
    if path and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(path))
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def as_user(cmd, user):
    """cmd run as user (None: as we are)."""
    if user is None:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--"] + cmd
    return ["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups"] + cmd


# The tests' settings: a cluster that loses everything on a crash, which a test run does
# not mind. A benchmark gives its own (start's settings) for what it measures.
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                 "max_connections": "400", "shared_buffers": "64MB"}


def start(state_dir, settings=None):
    """Start a cluster with TEST_SETTINGS, each overridden by settings (a dict of
    postgresql.conf names and values) when given."""
    os.makedirs(state_dir, exist_ok=True)
    state_file = os.path.join(state_dir, "state.json")
    if os.path.exists(state_file):
        stop(state_dir)  # a cluster left by an interrupted run
    bindir = find_bin_dir()
    if not bindir:
        json.dump({"skip": "PostgreSQL is not installed (no initdb in PATH or "
                   "/usr/lib/postgresql/*/bin): apt-get install postgresql "
                   "(scripts/install-deps.sh)"}, open(state_file, "w"))
        print("pgcluster: SKIPPED: no PostgreSQL binaries")
        return 0
    user = None
    if os.geteuid() == 0:
        user = "nobody"
        pwd.getpwnam(user)
    # a short path: the socket's path must fit in sockaddr_un (108 bytes)
    root = tempfile.mkdtemp(prefix="updraft-pg-", dir="/tmp")
    if user:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    data = os.path.join(root, "data")
    port = free_port()
    p = subprocess.run(as_user([os.path.join(bindir, "initdb"), "-D", data, "-U", SUPERUSER,
                                "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], user),
                       capture_output=True, text=True, cwd=root)
    if p.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        print("pgcluster: initdb failed:\n" + p.stdout + p.stderr, file=sys.stderr)
        return 1
    conf = dict(TEST_SETTINGS, **(settings or {}))
    opts = "-c listen_addresses='' -c unix_socket_directories=%s -p %d %s" % (
        root, port, " ".join("-c %s=%s" % kv for kv in conf.items()))
    p = subprocess.run(as_user([os.path.join(bindir, "pg_ctl"), "-D", data, "-l",
                                os.path.join(root, "log"), "-o", opts, "-w", "-t", "60",
                                "start"], user),
                       capture_output=True, text=True, cwd=root)
    if p.returncode != 0:
        log = open(os.path.join(root, "log")).read() if os.path.exists(
            os.path.join(root, "log")) else ""
        shutil.rmtree(root, ignore_errors=True)
        print("pgcluster: pg_ctl start failed:\n" + p.stdout + p.stderr + log, file=sys.stderr)
        return 1
    state = {"root": root, "data": data, "port": port, "user": user, "bindir": bindir,
             "url": "postgresql://%s@/postgres?host=%s&port=%d" % (SUPERUSER, root, port)}
    json.dump(state, open(state_file, "w"))
    print("pgcluster: PostgreSQL (%s) on the socket in %s, port %d" % (bindir, root, port))
    return 0


def stop(state_dir):
    state_file = os.path.join(state_dir, "state.json")
    try:
        state = json.load(open(state_file))
    except (OSError, ValueError):
        return 0
    os.unlink(state_file)
    if "root" not in state:
        return 0
    subprocess.run(as_user([os.path.join(state["bindir"], "pg_ctl"), "-D", state["data"], "-m",
                            "immediate", "-w", "stop"], state["user"]),
                   capture_output=True, text=True, cwd=state["root"])
    shutil.rmtree(state["root"], ignore_errors=True)
    print("pgcluster: stopped and removed %s" % state["root"])
    return 0


# ---- for the tests ------------------------------------------------------------------------

def state():
    """The running cluster's state, None when the tests run on SQLite. Exits 77 (SKIPPED,
    with the reason) when the tests are asked to use PostgreSQL and it is not there."""
    d = os.environ.get("UPDRAFT_TEST_PG")
    if not d:
        return None
    try:
        st = json.load(open(os.path.join(d, "state.json")))
    except (OSError, ValueError) as e:
        print("SKIPPED: no PostgreSQL cluster for this run (%s): the test pg.cluster.start "
              "starts it" % e)
        sys.exit(77)
    if "skip" in st:
        print("SKIPPED: " + st["skip"])
        sys.exit(77)
    return st


def psql(url, sql):
    """Run sql with psql on url; its output (tuples only, unaligned)."""
    st = state()
    exe = shutil.which("psql") or os.path.join(st["bindir"], "psql")
    p = subprocess.run([exe, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url, "-c",
                        sql], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("psql failed (%s): %s" % (sql, p.stderr))
    return p.stdout


def dump(url):
    """Every row of the database at url, as pg_dump writes it (bytes)."""
    st = state()
    exe = os.path.join(st["bindir"], "pg_dump")
    p = subprocess.run([exe, "--data-only", "-d", url], capture_output=True)
    if p.returncode != 0:
        raise SystemExit("pg_dump failed: %s" % p.stderr.decode(errors="replace"))
    return p.stdout


def database_url(key):
    """The URL of the database for key (a data directory: a server restarted on the same
    directory finds its database again), created empty on first use; None on SQLite."""
    st = state()
    if st is None:
        return None
    name = "t_" + hashlib.sha1(os.path.abspath(key).encode()).hexdigest()[:16]
    exists = psql(st["url"], "SELECT 1 FROM pg_database WHERE datname='%s'" % name).strip()
    if not exists:
        psql(st["url"], "CREATE DATABASE %s" % name)
    return st["url"].replace("/postgres?", "/%s?" % name)


def serve_args(key):
    """Arguments to add to `updraft serve` for the data directory key."""
    url = database_url(key)
    return ["--db", url] if url else []


def on_pg():
    return state() is not None


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(start(sys.argv[2]) if sys.argv[1] == "start" else stop(sys.argv[2]))
