#!/usr/bin/env python3
"""Black-box tests of the operator's side of `updraft` (issue 10): one server per data
directory, options without a command, backup and restore, events, device delete, the
static layout's answers to devices it has not identified. The real binary, real servers
on 127.0.0.1 with temporary data directories.

usage: test_ops.py UPDRAFT_BINARY FIRMWARE_DIR GROUP [SOURCE_DIR]
Python 3 standard library only; the synthetic images, the Server class and the device
requests come from tests/server/test_server.py (imported, same arguments)."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import hashlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import test_server as ts  # noqa: E402  (reads sys.argv[1:4]: BIN FWDIR GROUP)
from test_server import check, eq, Server, TOKEN  # noqa: E402

BIN = sys.argv[1]
GROUP = sys.argv[3]
SRCDIR = sys.argv[4] if len(sys.argv) > 4 else os.path.join(HERE, "..", "..")


def run(*args, env=None, timeout=30, cwd=None):
    p = subprocess.run([BIN] + list(args), env=env, capture_output=True, text=True,
                       timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def cli_env(srv):
    return dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=TOKEN)


def healthy(srv):
    try:
        return srv.raw(b"GET /healthz HTTP/1.0\r\n\r\n").status == 200
    except OSError:
        return False


# ---- one server per data directory --------------------------------------------------------

def t_lock():
    a = Server()
    try:
        # a second server on the same directory (another port): refused, naming the PID
        env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", a.data],
                           capture_output=True, text=True, timeout=20, env=env)
        eq(p.returncode, 1, "second serve on the same data dir: exit 1")
        check("in use by process %d" % a.proc.pid in p.stderr,
              "the refusal names the PID holding the directory: %r" % p.stderr)
        check("--data" in p.stderr and "kill %d" % a.proc.pid in p.stderr,
              "the refusal says what to do: %r" % p.stderr)
        check("listening" not in p.stdout, "the second server never listened: %r" % p.stdout)
        check(healthy(a), "the first server still serves")
        # the same directory spelled another way is the same directory
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data",
                            a.data + "/./"], capture_output=True, text=True, timeout=20,
                           env=env)
        check(p.returncode == 1 and str(a.proc.pid) in p.stderr,
              "another spelling of the path: refused too: %r" % p.stderr)
        # another directory: fine at the same time
        b = Server()
        check(healthy(b), "a server on another data dir runs alongside")
        b.stop()
    finally:
        a.stop()
    # the lock dies with its process: a stop, or a kill -9, never leaves a stale lock
    b = Server(data=a.data)
    check(healthy(b), "a new server on the directory after a clean stop")
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(10)
    c = Server(data=a.data)
    check(healthy(c), "a new server on the directory after kill -9 of the last one")
    c.stop()
    b.proc.stdout.close()
    b.proc.stderr.close()


GROUPS = {"lock": t_lock}

if __name__ == "__main__":
    GROUPS[GROUP]()
    if ts.FAILS:
        print("%d check(s) failed in group %s" % (len(ts.FAILS), GROUP))
        sys.exit(1)
    print("ok: group %s" % GROUP)
