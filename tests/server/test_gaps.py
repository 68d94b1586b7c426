#!/usr/bin/env python3
"""Behaviours a mutation run found unguarded (issue 16): each group fails on exactly one
kind of bug that the rest of the suite let through (tools/mutants/mutants.txt names the
mutants each group catches). The real `updraft serve` on 127.0.0.1, byte-exact device
requests (shared/spec), synthetic images (no corpus needed).

usage: test_gaps.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: devauth oldcore lastseen reportbound uploadabort signed hold"""
import base64
import gzip
import os
import socket
import struct
import sys
import tempfile
import time

import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request, events, md5


def wait_for(what, fn, tries=200):
    for _ in range(tries):
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    check(False, "timed out waiting for " + what)
    return None


def device(srv, mac):
    return srv.api("GET", "/api/v1/devices/" + mac).json


def completed(srv, mac):
    return sum(e["kind"] == "download-completed" for e in events(srv, mac))


def basic(user_pass):
    return "Authorization: Basic %s\r\n" % base64.b64encode(user_pass.encode()).decode()


def t_devauth():
    """docs/protocol.md "Device authentication": a device listed in the file sends its own
    credentials, every other device the fleet ones; a download by release URL (no MAC)
    takes the fleet credentials or any device's."""
    tmp = tempfile.TemporaryDirectory()
    cred = os.path.join(tmp.name, "creds")
    with open(cred, "w") as f:
        f.write("5C:CF:7F:00:00:01 dev1:s3cret\n5C:CF:7F:00:00:02 dev2:other\n")
    srv = Server(["--device-auth", "fleet:fleetpass", "--device-auth-file", cred])
    try:
        img = arduino_bin(seed=161)
        rel = srv.upload(img, "1.0", "stable").json
        # a device that is not in the file: only the fleet credentials
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:09", auth="dev1:s3cret"))
        eq(r.status, 401, "unlisted device with another device's credentials: 401")
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:09", auth="fleet:fleetpass"))
        t.check_image_response(r, img, "1.0", "unlisted device with the fleet credentials")
        # a listed device: only its own
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:02", auth="dev1:s3cret"))
        eq(r.status, 401, "listed device with another listed device's credentials: 401")
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:02", auth="dev2:other"))
        t.check_image_response(r, img, "1.0", "listed device with its own credentials")
        r = srv.raw(b"GET /fw/5CCF7F000009.bin HTTP/1.0\r\nUser-Agent: ESP8266HTTPClient\r\n"
                    + basic("dev2:other").encode() + b"\r\n")
        eq(r.status, 401, "/fw of an unlisted device with a device's credentials: 401")
        r = srv.raw(b"GET /fw/5CCF7F000002.version HTTP/1.0\r\nUser-Agent: ESP8266HTTPClient\r\n"
                    + basic("dev2:other").encode() + b"\r\n")
        eq((r.status, r.body), (200, b"1.0"), "/fw of a listed device with its own credentials")
        # /releases/ names no device: the fleet's or any device's credentials
        url = rel["url"]
        for who in ("dev1:s3cret", "dev2:other", "fleet:fleetpass"):
            r = srv.raw(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" %
                         (url, basic(who))).encode())
            t.check_image_response(r, img, "1.0", "/releases/ with %s" % who.split(":")[0])
            r = srv.raw(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: bytes=0-9\r\n"
                         "%s\r\n" % (url, basic(who))).encode())
            eq((r.status, r.body), (206, img[:10]), "/releases/ Range with %s" % who.split(":")[0])
        for who in ("dev1:other", "nobody:s3cret", "fleet:s3cret"):
            r = srv.raw(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" %
                         (url, basic(who))).encode())
            eq(r.status, 401, "/releases/ with wrong credentials %s: 401" % who)
    finally:
        srv.stop()


def t_oldcore():
    """docs/protocol.md, "Answers": a device that sends no MD5, SHA-256 or version (the
    oldest cores) gets 304 when its sketch-size equals the release's length, or when the
    registry knows it last installed this release; without these it would download the
    same release forever."""
    srv = Server()
    try:
        img = arduino_bin(seed=162)
        rel = srv.upload(img, "2.0", "stable").json
        bare = dict(md5sum=None, version=None, chip_id=False)
        r = srv.raw(esp8266_request(srv.port, mac="0C:00:00:00:00:01", size=len(img), **bare))
        eq(r.status, 304, "old core, sketch-size == the release's length: 304")
        check("as long as release %d" % rel["id"] in r.headers.get("x-updraft-reason", ""),
              "the reason says why: %r" % r.headers.get("x-updraft-reason"))
        for size in (len(img) - 1, len(img) + 1):
            r = srv.raw(esp8266_request(srv.port, mac="0C:00:00:00:00:02", size=size, **bare))
            t.check_image_response(r, img, "2.0", "old core, sketch-size %d (not the length)"
                                   % size)
        # a gzip release: the device runs the inflated image, sketch-size is its length
        plain = arduino_bin(seed=163)
        gz = gzip.compress(plain, 9)
        grel = srv.upload(gz, "3.0", "gz").json
        eq(grel["inflated_size"], len(plain), "gzip release knows the inflated length")
        r = srv.raw(esp8266_request(srv.port, path="/update/gz", mac="0C:00:00:00:00:03",
                                    size=len(plain), **bare))
        eq(r.status, 304, "old core, sketch-size == the gzip release's inflated length: 304")
        r = srv.raw(esp8266_request(srv.port, path="/update/gz", mac="0C:00:00:00:00:04",
                                    size=len(gz), **bare))
        eq(r.status, 304, "old core, sketch-size == the gzip file's length: 304")
        # the registry knows the device installed the release (it said so by its MD5 once)
        mac = "0C:00:00:00:00:05"
        r = srv.raw(esp8266_request(srv.port, mac=mac))
        eq(r.status, 200, "offered while it runs another image")
        wait_for("download-completed", lambda: completed(srv, mac) >= 1)
        r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=md5(img), size=len(img)))
        eq(r.status, 304, "runs it now (by its MD5)")
        d = wait_for("running_release", lambda: device(srv, mac)["running_release"] == rel["id"])
        check(d, "the registry knows the device runs release %d" % rel["id"])
        r = srv.raw(esp8266_request(srv.port, mac=mac, size=400000, **bare))
        eq(r.status, 304, "old core that last installed this release: 304")
        check("last installed release %d" % rel["id"] in r.headers.get("x-updraft-reason", ""),
              "the reason says it last installed it: %r" % r.headers.get("x-updraft-reason"))
        # the same request from a device the registry does not know: offered
        r = srv.raw(esp8266_request(srv.port, mac="0C:00:00:00:00:06", size=400000, **bare))
        t.check_image_response(r, img, "2.0", "old core the registry does not know")
        eq(completed(srv, mac), 1, "the old core downloaded the release once, not again")
    finally:
        srv.stop()


def t_lastseen():
    """docs/protocol.md "What is recorded": last_seen is the time of the device's latest
    check, also when the check repeats the previous one (no event, a cheaper write)."""
    srv = Server()
    try:
        img = arduino_bin(seed=164)
        srv.upload(img, "4.0", "stable")
        mac = "DE:BA:7A:B1:E1:64"
        req = esp8266_request(srv.port, mac=mac, md5sum=md5(img), size=len(img), version="4.0")
        eq(srv.raw(req).status, 304, "first check: up to date")
        first = device(srv, mac)
        nev = len(first["history"])
        seen = first["last_seen"]
        for i in range(3):
            time.sleep(0.02)
            eq(srv.raw(req).status, 304, "repeated check %d: 304" % i)
            d = device(srv, mac)
            check(d["last_seen"] > seen, "repeated check %d advances last_seen: %r then %r"
                  % (i, seen, d["last_seen"]))
            eq(d["first_seen"], first["first_seen"], "first_seen stays")
            eq(len(d["history"]), nev, "a repeated check adds no event")
            seen = d["last_seen"]
        # a check with other facts (free space changed): the full row write
        time.sleep(0.02)
        req2 = esp8266_request(srv.port, mac=mac, md5sum=md5(img), size=len(img), version="4.0",
                               free=1000000)
        eq(srv.raw(req2).status, 304, "check with new facts: 304")
        d = device(srv, mac)
        eq(d["free_space"], 1000000, "the new free space is recorded")
        check(d["last_seen"] > seen, "a check with new facts advances last_seen: %r then %r"
              % (seen, d["last_seen"]))
    finally:
        srv.stop()


def t_reportbound():
    """docs/protocol.md "Outcome report": result is a decimal in -999..999; a report with
    a result outside it is void (no event), the check is answered as usual."""
    srv = Server()
    try:
        img = arduino_bin(seed=165)
        srv.upload(img, "5.0", "stable")
        for n, (result, valid) in enumerate((("999", True), ("-999", True), ("1000", False),
                                             ("-1000", False), ("4294967303", False),
                                             ("99999999999999999999", False))):
            mac = "DE:BA:7A:B1:E1:%02X" % (0x70 + n)
            rep = "v=1;result=%s;md5=%s;version=5.0;rollback=0" % (result, md5(img))
            r = srv.raw(t.with_report(esp8266_request(srv.port, mac=mac), rep))
            t.check_image_response(r, img, "5.0", "check with report result=%s" % result)
            got = [e for e in events(srv, mac) if e["kind"].startswith("report-")]
            if valid:
                check(len(got) == 1 and got[0]["kind"] == "report-failed" and
                      ("version 5.0 failed with %s" % result) in got[0]["detail"],
                      "result=%s (in range) recorded: %r" % (result, got))
            else:
                eq(got, [], "result=%s (out of range) voids the report" % result)
    finally:
        srv.stop()


def tmp_files(srv):
    return os.listdir(os.path.join(srv.data, "tmp"))


def t_uploadabort():
    """docs/api.md: an upload is streamed to a temp file in <data>/tmp; a client that goes
    away mid-upload leaves nothing behind (no temp file, no blob, no release). A reset
    connection ends at once; one the client merely closed ends when the server reads its
    end of stream, which libmicrohttpd sometimes notices only at the idle timeout: hence
    --timeout 2 and a wait of up to 10 s."""
    srv = Server(["--timeout", "2"])
    try:
        img = t.esp32_app(seed=166, big=3 << 20)
        boundary = "----updraftgap"
        multipart = ("--%s\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0\r\n"
                     "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\""
                     "\r\nContent-Type: application/octet-stream\r\n\r\n"
                     % (boundary, boundary)).encode() + img + ("\r\n--%s--\r\n" % boundary).encode()
        for how, ctype, body, reset in (
                ("raw body, connection reset", "application/octet-stream", img, True),
                ("raw body, connection closed", "application/octet-stream", img, False),
                ("multipart, connection reset", "multipart/form-data; boundary=" + boundary,
                 multipart, True)):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(("POST /api/v1/releases?version=1.0 HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                       "\r\n" % (t.TOKEN, ctype, len(body))).encode())
            s.sendall(body[:1 << 20])
            # the server has the upload's temp file, partly written
            part = wait_for("%s: the temp file" % how, lambda: [
                f for f in tmp_files(srv)
                if os.path.getsize(os.path.join(srv.data, "tmp", f)) > 0])
            check(part, "%s: the upload is being written to a temp file" % how)
            if reset:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            gone = wait_for("%s: temp file removed" % how, lambda: not tmp_files(srv))
            check(gone, "%s: no temp file left: %r" % (how, tmp_files(srv)))
        eq(srv.api("GET", "/api/v1/releases").json["releases"], [], "no release from aborts")
        blobs = os.path.join(srv.data, "blobs", "sha256")
        eq(sum(len(f) for _, _, f in os.walk(blobs)), 0, "no blob from aborts")
        # and a whole upload still works afterwards
        eq(srv.upload(img, "1.0").status, 201, "a complete upload after the aborted ones")
        eq(tmp_files(srv), [], "no temp file after a complete upload")
    finally:
        srv.stop()


def t_signed():
    """docs/protocol.md "How a device's image is recognised": a signed ESP8266 image
    (payload || signature || u32 length) runs as its payload, and getSketchMD5() hashes
    the payload alone (in the chip's flash mode): a device reporting that MD5 runs the
    release and gets 304, not the release again (an update loop)."""
    srv = Server()
    try:
        payload = arduino_bin(seed=167, mode=2)
        signed = payload + t.fill(256, 1670) + struct.pack("<I", 256)
        rel = srv.upload(signed, "6.0", "stable").json
        eq(rel.get("md5"), md5(signed), "a signed release")
        for mode, name in ((2, "its own (DIO)"), (0, "QIO")):
            flashed = payload[:2] + bytes([mode]) + payload[3:]
            r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E1:%02X" % (0x80 + mode),
                                        md5sum=md5(flashed), size=len(payload), version="1.0"))
            eq(r.status, 304, "device running the signed payload in %s flash mode: 304" % name)
            check(mode != 2 or "signed payload MD5" in r.headers.get("x-updraft-reason", ""),
                  "the reason names the payload: %r" % r.headers.get("x-updraft-reason"))
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E1:8F"))
        t.check_image_response(r, signed, "6.0", "a device running another image gets it")
    finally:
        srv.stop()


def t_hold():
    """docs/protocol.md "Failed releases": a release held back from a device after a
    failure is offered again once its back-off has passed, and installing it ends the
    hold."""
    srv = Server(extra=["--failure-backoff", "2s,1h"])
    try:
        img = arduino_bin(seed=168)
        rel = srv.upload(img, "7.0", "stable").json
        mac, old = "DE:BA:7A:B1:E1:90", "a43ad019932b627ab90ee35a94a764ee"
        # the device reports that the release failed, on a check that offers nothing (a
        # channel without releases): one failure, no download, held for 2 s
        rep = "v=1;result=7;md5=%s;version=7.0;rollback=0" % md5(img)
        r = srv.raw(t.with_report(esp8266_request(srv.port, path="/update/empty", mac=mac,
                                                  md5sum=old), rep))
        eq(r.status, 304, "a check on an empty channel")
        held = wait_for("held", lambda: events(srv, mac, "held"))
        check(held and "failed on this device 1 time: offered again after" in held[0]["detail"],
              "held for the first back-off step: %r" % held)
        r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=old))
        eq(r.status, 304, "held: 304")
        check("release %d (version 7.0) failed on this device 1 time" % rel["id"]
              in r.headers.get("x-updraft-reason", ""), "the reason says why: %r"
              % r.headers.get("x-updraft-reason"))
        # the back-off passes: offered again
        t0 = time.time()
        while time.time() - t0 < 10:
            r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=old))
            if r.status != 304:
                break
            time.sleep(0.25)
        t.check_image_response(r, img, "7.0", "offered again once the back-off has passed")
        wait_for("download-completed", lambda: completed(srv, mac) >= 1)
        d = device(srv, mac)
        eq((d["held"] or {}).get("failures"), 1, "still counted while not installed")
        # it installs it: the hold ends
        r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=md5(img), size=len(img)))
        eq(r.status, 304, "installed: 304")
        d = wait_for("running release", lambda: [x for x in [device(srv, mac)]
                                                 if x["running_release"] == rel["id"]])
        eq(d[0]["held"] if d else "no row", None, "installing the held release ends the hold")
        eq(d[0]["attention"] if d else "no row", None, "and the device needs no attention")
    finally:
        srv.stop()


GROUPS = {"hold": t_hold, "signed": t_signed, "devauth": t_devauth, "oldcore": t_oldcore, "lastseen": t_lastseen,
          "reportbound": t_reportbound, "uploadabort": t_uploadabort}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
