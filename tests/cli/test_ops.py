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

# ---- the static layout and devices not identified yet ---------------------------------------

def fw_get(srv, mac, ext="version", ua=None):
    req = "GET /fw/%s.%s HTTP/1.0\r\nHost: x\r\n" % (mac, ext)
    if ua:
        req += "User-Agent: %s\r\n" % ua
    return srv.raw((req + "\r\n").encode())


def t_fwversion():
    srv = Server()
    try:
        e8 = ts.arduino_bin(seed=61)
        e32 = ts.esp32_app(seed=62, version="3.0")
        eq(srv.upload(e8, "2.0", "stable").status, 201, "ESP8266 release 2.0 on stable")
        eq(srv.upload(e32, "3.0", "stable").status, 201, "ESP32 release 3.0 on stable")
        # never seen, nothing in the request says what it is: no version of either
        for ext in ("version", "bin"):
            r = fw_get(srv, "5CCF7F000061", ext)
            eq(r.status, 404, "unidentified device, no User-Agent: /fw .%s is 404" % ext)
            check(b"ESP8266 or an ESP32" in r.body and b"device pin 5C:CF:7F:00:00:61" in r.body,
                  "the 404 says why and what to do: %r" % r.body)
            r = fw_get(srv, "5CCF7F000061", ext, ua="curl/8.5.0")
            eq(r.status, 404, "unidentified device, curl: /fw .%s is 404" % ext)
        # HTTPClient's default User-Agent names the platform
        r = fw_get(srv, "5CCF7F000062", ua="ESP8266HTTPClient")
        eq((r.status, r.body), (200, b"2.0"), "ESP8266HTTPClient: the ESP8266 release")
        r = fw_get(srv, "246F28000063", ua="ESP32HTTPClient")
        eq((r.status, r.body), (200, b"3.0"), "ESP32HTTPClient: the ESP32 release")
        r = fw_get(srv, "246F28000063", "bin", ua="ESP32HTTPClient")
        eq((r.status, r.body == e32), (200, True), "ESP32HTTPClient .bin: the ESP32 image")
        # a device that checked in is known: its platform, whatever asks
        r = srv.raw(ts.esp32_request(srv.port, mac="24:6F:28:00:00:64", version="1.0"))
        eq(r.status, 200, "the ESP32 checks in on /update (offered 3.0)")
        deadline = time.time() + 5
        while time.time() < deadline:
            d = srv.api("GET", "/api/v1/devices/246F28000064")
            if d.status == 200 and d.json.get("family") == "esp32":
                break
            time.sleep(0.1)
        for ua in (None, "curl/8.5.0", "ESP8266HTTPClient"):
            r = fw_get(srv, "24:6F:28:00:00:64", ua=ua)
            eq((r.status, r.body), (200, b"3.0"), "known ESP32 (User-Agent %s): 3.0" % ua)
        # a pin is the operator's choice: answered for an unidentified device too
        rel = srv.upload(ts.arduino_bin(seed=63), "1.5").json
        eq(srv.api("POST", "/api/v1/devices/5CCF7F000065/pin", {"release": rel["id"]}).status,
           200, "pin an unseen device")
        r = fw_get(srv, "5CCF7F000065")
        eq((r.status, r.body), (200, b"1.5"), "pinned unidentified device: the pin's version")
    finally:
        srv.stop()


# ---- options without a command go to serve ----------------------------------------------------

def t_noverb():
    tmp = tempfile.TemporaryDirectory()
    data = os.path.join(tmp.name, "data")
    env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
    p = subprocess.Popen([BIN, "--listen", "127.0.0.1:0", "--data", data, "--threads", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    port = None
    deadline = time.time() + 10
    while time.time() < deadline and port is None:
        line = p.stdout.readline()
        if not line:
            break
        if line.startswith("listening on http://127.0.0.1:"):
            port = int(line.rsplit(":", 1)[1])
    check(port is not None, "updraft --listen ... --data ...: the server starts")
    if port:
        r = ts.Server.raw(type("S", (), {"port": port})(), b"GET /healthz HTTP/1.0\r\n\r\n")
        eq(r.status, 200, "and serves")
        check(os.path.exists(os.path.join(data, "updraft.db")), "in the --data directory")
    p.send_signal(signal.SIGTERM)
    eq(p.wait(10), 0, "it stops cleanly")
    p.stdout.close()
    p.stderr.close()
    rc, out, err = run("--no-such-option")
    check(rc == 2 and "updraft serve: unknown option '--no-such-option'" in err,
          "an unknown option is serve's, said so: %r" % err)
    rc, out, err = run("--help")
    check(rc == 0 and "Options without a" in out and "serve" in out, "--help tells: %r" % out)
    rc, out, err = run("--version")
    check(rc == 0 and out.startswith("updraft "), "--version still is the binary's")


GROUPS = {"noverb": t_noverb, "lock": t_lock, "fwversion": t_fwversion}

if __name__ == "__main__":
    GROUPS[GROUP]()
    if ts.FAILS:
        print("%d check(s) failed in group %s" % (len(ts.FAILS), GROUP))
        sys.exit(1)
    print("ok: group %s" % GROUP)
