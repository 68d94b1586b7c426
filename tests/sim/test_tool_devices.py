#!/usr/bin/env python3
"""Devices made by updraft's tools (issue 10): `updraft sim` and `updraft doctor` say so to
the real `updraft serve` on 127.0.0.1 (x-updraft-tool); the server records it in the
device row (API field "tool"); `updraft device list` leaves them out and says how many
(`--tool sim|doctor|any` lists them); `updraft device delete --tool sim --yes`
removes them in one command; a failed release is held back from a real device but never
from a tool's device (outcome.c).

usage: test_tool_devices.py UPDRAFT_BINARY MKIMAGE_BINARY
Python 3 standard library only."""
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

import http.client

from simtest import BIN, FAILS, MKIMAGE, TOKEN, Server, check, eq  # noqa: F401


def cli(srv, tmp, *args):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
           "UPDRAFT_URL": srv.url, "UPDRAFT_TOKEN": TOKEN}
    p = subprocess.run([BIN, *args], capture_output=True, timeout=60, env=env)
    print("$ updraft %s\n  (exit %d) %s %s" % (" ".join(args), p.returncode,
                                              p.stdout.decode()[-600:], p.stderr.decode()[-300:]),
          flush=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def device_check(srv, mac, md5, tool=None, read_body=True):
    """One ESP8266 check-in as ESPhttpUpdate sends it (plus x-updraft-tool when given)."""
    h = {"User-Agent": "ESP8266-http-Update", "x-ESP8266-STA-MAC": mac,
         "x-ESP8266-AP-MAC": mac, "x-ESP8266-free-space": "1695744",
         "x-ESP8266-sketch-size": "300000", "x-ESP8266-sketch-md5": md5,
         "x-ESP8266-chip-size": "4194304", "x-ESP8266-sdk-version": "2.2.2-dev(38a443e)",
         "x-ESP8266-mode": "sketch", "x-ESP8266-version": "1.0.0"}
    if tool:
        h["x-updraft-tool"] = tool
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    c.request("GET", "/update", headers=h)
    r = c.getresponse()
    body = r.read() if read_body else b""
    c.close()
    return r.status, body


def main():
    with tempfile.TemporaryDirectory(prefix="updraft-tooldev-") as tmp:
        img = os.path.join(tmp, "app.bin")
        subprocess.run([MKIMAGE, "esp8266-app", img, "150000", "7"], check=True)
        # one failure holds a release back for an hour (the default offers it again once)
        srv = Server(tmp, "data", "--failure-backoff", "1h")
        try:
            st, rel = srv.api("POST", "/api/v1/releases?version=2.0.0&channel=stable",
                              open(img, "rb").read())
            eq(st, 201, "upload")
            # sim's devices are marked "sim"
            p = subprocess.run([BIN, "sim", "--server", srv.url + "/update", "--devices", "3",
                                "--quiet", "--json"], capture_output=True, timeout=120)
            eq(p.returncode, 0, "sim: exit status")
            st, js = srv.api("GET", "/api/v1/devices?tool=sim")
            eq(js["total"], 3, "API tool=sim: the sim's devices")
            eq([d["tool"] for d in js["devices"]], ["sim"] * 3, "API: tool field is sim")
            st, js = srv.api("GET", "/api/v1/devices?tool=none")
            eq(js["total"], 0, "API tool=none: no real device yet")
            eq(js.get("tool_devices_hidden"), 3, "API tool=none: says what it left out")
            # doctor's check-in is marked "doctor"
            dmac = "DE:AD:BE:EF:00:01"
            p = subprocess.run([BIN, "doctor", srv.url + "/update", "--mac", dmac, "--json",
                                "--no-probes"], capture_output=True, timeout=120)
            check(p.returncode in (0, 1), "doctor ran: %r" % p.stderr[-300:])
            st, js = srv.api("GET", "/api/v1/devices/" + dmac)
            eq(js.get("tool"), "doctor", "doctor's device: tool field")
            # a real device and a tool's device fail the release the same way: downloaded,
            # then still on the old image. Held back from the real one only.
            real, tooldev, old = "5C:CF:7F:AA:00:01", "5C:CF:7F:AA:00:02", "0" * 32
            for mac, tool in ((real, None), (tooldev, "doctor")):
                st, body = device_check(srv, mac, old, tool)
                eq(st, 200, "%s: offered" % mac)
                eq(len(body), os.path.getsize(img), "%s: the whole image" % mac)
            srv.api("GET", "/api/v1/devices?limit=1")  # the writer records the downloads
            for mac, tool in ((real, None), (tooldev, "doctor")):
                device_check(srv, mac, old, tool)  # still the old image: failed
            st, js = srv.api("GET", "/api/v1/devices/" + real)
            check(js.get("held") is not None, "real device: the failed release is held back: %r"
                  % js.get("held"))
            eq(js.get("tool"), None, "real device: no tool")
            st, js = srv.api("GET", "/api/v1/devices/" + tooldev)
            eq(js.get("held"), None, "tool's device: never held back")
            eq(js.get("tool"), "doctor", "tool's device: tool field")
            st, _ = device_check(srv, real, old, None)
            eq(st, 304, "real device: held back, 304")
            st, _ = device_check(srv, tooldev, old, "doctor")
            eq(st, 200, "tool's device: offered again")
            st, ev = srv.api("GET", "/api/v1/events?mac=" + tooldev)
            check(any(e.get("kind") == "not-held" for e in ev.get("events", [])),
                  "tool's device: a not-held event says why: %r" % ev)
            # the CLI: not in the fleet's list, listed and removed on request
            rc, out, err = cli(srv, tmp, "device", "list")
            eq(rc, 0, "device list: exit")
            check(real in out and tooldev not in out and dmac not in out,
                  "device list: the real device only")
            check(re.search(r"of 1\b", out), "device list: counts 1 device: " + out)
            check("not counted: 5 devices made by updraft sim or doctor" in out,
                  "device list: says how many tool devices it left out: " + out)
            rc, out, err = cli(srv, tmp, "device", "list", "--tool", "sim", "--json")
            eq(rc, 0, "device list --tool sim: exit")
            eq(json.loads(out)["total"], 3, "device list --tool sim: the 3 sim devices")
            rc, out, err = cli(srv, tmp, "device", "list", "--tool", "any")
            check(dmac in out and tooldev in out and real not in out,
                  "device list --tool any: the tools' devices only")
            rc, out, err = cli(srv, tmp, "device", "list", "--tool", "robot")
            eq(rc, 1, "device list --tool robot: refused")
            check("--tool takes sim, doctor, any" in err, "--tool robot: says what --tool takes")
            rc, out, err = cli(srv, tmp, "device", "delete", "--tool", "sim", "--yes")
            eq(rc, 0, "delete --tool sim --yes: exit")
            check("3 of 3 devices deleted" in out, "delete: 3 of 3: " + out)
            st, js = srv.api("GET", "/api/v1/devices")
            eq(js["total"], 3, "left: the real device and the 2 doctor devices")
            eq(sorted(d["tool"] or "" for d in js["devices"]), ["", "doctor", "doctor"],
               "left: the real one and doctor's")
        finally:
            srv.stop()
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
