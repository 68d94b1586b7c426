#!/usr/bin/env python3
"""`updraft sim` tells the truth (issue 10): against the real `updraft serve` on 127.0.0.1,
a fleet the server refuses a release to (it does not fit their flash) counts as refused,
not "already current", with the server's reasons grouped (human and --json) and exit 1;
device credentials (--user/--password, --auth-file 'MAC USER:PASSWORD' as
serve --device-auth-file reads them) let a fleet update from a server that requires them,
and without them the devices fail and the run exits 1.

usage: test_sim_truth.py UPDRAFT_BINARY MKIMAGE_BINARY
Python 3 standard library only."""
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

from simtest import BIN, FAILS, MKIMAGE, TOKEN, Server, check, eq  # noqa: F401


def sim(srv, *args, path="/update", json_out=True):
    cmd = [BIN, "sim", "--server", srv.url + path, "--quiet", "--retry-ms", "20",
           "--max-checks", "4"] + (["--json"] if json_out else []) + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    out = p.stdout.decode()
    print("$ %s\n  (exit %d) %s %s" % (" ".join(cmd[1:]), p.returncode, out.strip()[-400:],
                                       p.stderr.decode()[-300:]), flush=True)
    if not json_out:
        return p.returncode, out, p.stderr.decode()
    lines = out.strip().splitlines()
    try:
        return p.returncode, json.loads(lines[-1]), p.stderr.decode()
    except (ValueError, IndexError):
        check(False, "sim printed no JSON: %r %r" % (out[-300:], p.stderr[-300:]))
        return p.returncode, {}, p.stderr.decode()


def t_refused(tmp, srv):
    big = os.path.join(tmp, "big.bin")
    subprocess.run([MKIMAGE, "esp8266-app", big, "700000", "5"], check=True)
    st, rel = srv.api("POST", "/api/v1/releases?version=3.0.0&channel=big", open(big, "rb").read())
    eq(st, 201, "upload the big release")
    # 1 MB flash with 64 KB filesystem: about 470 KB of room, the image is 700 KB
    n = 12
    rc, res, _ = sim(srv, "--devices", str(n), "--layout", "esp8266-1m64", path="/update/big")
    eq(rc, 1, "refused fleet: exit status (the devices did not reach the release)")
    eq(res.get("refused"), n, "refused fleet: counted as refused")
    eq(res.get("current"), 0, "refused fleet: not 'already current'")
    eq(res.get("updated"), 0, "refused fleet: none updated")
    reasons = res.get("refused_reasons", [])
    eq(sum(r.get("devices", 0) for r in reasons), n, "refused fleet: every refusal has a reason")
    check(len(reasons) == 1, "refused fleet: the same reason, grouped once: %r" % reasons)
    check(reasons and "not offered" in reasons[0]["reason"] and "3.0.0" in reasons[0]["reason"],
          "refused fleet: the server's reason names the release: %r" % reasons)
    # the human summary says the same
    rc, out, _ = sim(srv, "--devices", str(n), "--layout", "esp8266-1m64", "--seed", "3",
                     path="/update/big", json_out=False)
    eq(rc, 1, "refused fleet (human): exit status")
    check(re.search(r"refused\s+%d" % n, out), "human summary: 'refused %d': %s" % (n, out))
    check(re.search(r"already current\s+0\b", out), "human summary: none current: " + out)
    check(reasons and re.search(r"\b%d\s+%s" % (n, re.escape(reasons[0]["reason"][:60])), out),
          "human summary: the reason with its count: " + out)
    # a device the server has nothing for (an empty channel) is current, not refused
    rc, res, _ = sim(srv, "--devices", "3", path="/update/nothing-here")
    eq(res.get("refused"), 0, "empty channel: not refused")
    eq(res.get("current"), 3, "empty channel: current")
    eq(rc, 0, "empty channel: exit 0")


def t_auth(tmp, img):
    auth = os.path.join(tmp, "devices.auth")
    with open(auth, "w") as f:
        f.write("# per-device credentials\n")
        for i in range(1, 5):
            f.write("5C:CF:7F:00:00:%02X dev%d:secret-%d\n" % (i, i, i))
    srv = Server(tmp, "data-auth", "--device-auth", "fleet:fleetpw", "--device-auth-file", auth)
    try:
        st, _ = srv.api("POST", "/api/v1/releases?version=2.0.0&channel=stable",
                        open(img, "rb").read())
        eq(st, 201, "auth server: upload")
        rc, res, _ = sim(srv, "--devices", "4")
        eq(rc, 1, "no credentials: exit 1")
        eq(res.get("updated"), 0, "no credentials: none updated")
        eq(res.get("failed_total"), 4, "no credentials: all failed")
        rc, res, _ = sim(srv, "--devices", "4", "--auth-file", auth, "--seed", "2")
        eq(rc, 0, "--auth-file: exit 0")
        eq(res.get("updated"), 4, "--auth-file: all updated")
        # devices 5..8 are not in the file: they send the fleet's credentials
        rc, res, _ = sim(srv, "--devices", "8", "--auth-file", auth, "--user", "fleet",
                         "--password", "fleetpw", "--seed", "3")
        eq(rc, 0, "--auth-file + --user/--password: exit 0")
        eq(res.get("updated"), 8, "--auth-file + --user/--password: all updated")
        # the fleet's credentials alone: the devices with their own are refused (401)
        rc, res, _ = sim(srv, "--devices", "8", "--user", "fleet", "--password", "fleetpw",
                         "--seed", "5")
        eq(rc, 1, "--user/--password alone: exit 1")
        eq(res.get("updated"), 4, "--user/--password alone: the devices without their own")
        eq(res.get("failed_total"), 4, "--user/--password alone: the listed devices failed")
        rc, res, _ = sim(srv, "--devices", "4", "--user", "fleet", "--password", "wrong",
                         "--seed", "4")
        eq(rc, 1, "wrong password: exit 1")
        eq(res.get("updated"), 0, "wrong password: none updated")
        # bad input: a clear error, exit 2
        bad = os.path.join(tmp, "bad.auth")
        with open(bad, "w") as f:
            f.write("not-a-mac dev1:pw\n")
        p = subprocess.run([BIN, "sim", "--server", srv.url + "/update", "--auth-file", bad],
                           capture_output=True, timeout=30)
        eq(p.returncode, 2, "bad --auth-file: exit 2")
        check(b"line 1" in p.stderr and b"MAC USER:PASSWORD" in p.stderr,
              "bad --auth-file: says the line and the format: %r" % p.stderr)
        p = subprocess.run([BIN, "sim", "--server", srv.url + "/update", "--user", "x"],
                           capture_output=True, timeout=30)
        eq(p.returncode, 2, "--user without --password: exit 2")
        check(b"--password" in p.stderr, "--user alone: names --password: %r" % p.stderr)
    finally:
        srv.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="updraft-simtruth-") as tmp:
        img = os.path.join(tmp, "app.bin")
        subprocess.run([MKIMAGE, "esp8266-app", img, "150000", "7"], check=True)
        srv = Server(tmp, "data")
        try:
            t_refused(tmp, srv)
        finally:
            srv.stop()
        t_auth(tmp, img)
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
