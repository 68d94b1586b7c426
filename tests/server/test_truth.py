#!/usr/bin/env python3
"""Device truth (issue 8): the server recognises a release by every hash a device that
installed it reports, and stops offering a release that failed on a device. The real
`updraft serve` on 127.0.0.1, byte-exact device requests (shared/spec).

usage: test_truth.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: imageid refresh backoff"""
import os
import sys
import time

import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request, events, md5


def with_mode(img, mode):
    """The image as a device running flash mode `mode` holds it after installing it: the
    Updater rewrote byte 2 (spec 8)."""
    return img[:2] + bytes([mode]) + img[3:]


def wait_for(what, fn, tries=100):
    for _ in range(tries):
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    check(False, "timed out waiting for " + what)
    return None


def device(srv, mac):
    return srv.api("GET", "/api/v1/devices/" + mac).json


def t_imageid():
    srv = Server()
    try:
        img = arduino_bin(seed=81, mode=2)  # a DIO build
        rel = srv.upload(img, "3.0", "stable").json
        eq(rel["md5"], md5(img), "release md5")
        for mode, name in ((0, "QIO"), (1, "QOUT"), (3, "DOUT")):
            mac = "DE:BA:7A:B1:E1:%02X" % mode
            # the device runs the old image: offered, downloaded
            r = srv.raw(esp8266_request(srv.port, mac=mac))
            eq(r.status, 200, "%s device: offered" % name)
            wait_for("download-completed of %s" % mac, lambda: any(
                e["kind"] == "download-completed" for e in device(srv, mac).get("history", [])))
            # after the reboot it reports the image as on its flash: byte 2 = its mode
            flashed = with_mode(img, mode)
            check(md5(flashed) != md5(img), "the flashed image differs from the file")
            r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=md5(flashed), size=len(img),
                                        version="1.0.0"))
            eq(r.status, 304, "%s device after installing: 304, no update loop" % name)
            reason = r.headers.get("x-updraft-reason", "")
            check("runs release %d" % rel["id"] in reason and name in reason,
                  "%s: reason names the release and the flash mode: %r" % (name, reason))
            d = device(srv, mac)
            eq(d["running_release"], rel["id"], "%s: running release known" % name)
            eq(d["offered_release"], None, "%s: offer closed" % name)
            kinds = [e["kind"] for e in d["history"]]
            check("updated" in kinds and "failed" not in kinds,
                  "%s: updated inferred, not failed: %r" % (name, kinds))
            # and again: still no offer
            r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=md5(flashed), size=len(img)))
            eq(r.status, 304, "%s: second check 304" % name)
        # the outcome report names the release by a flash-mode MD5 as well
        mac = "DE:BA:7A:B1:E1:10"
        rep = "v=1;result=0;md5=%s;version=3.0;rollback=0" % md5(with_mode(img, 3))
        srv.raw(t.with_report(esp8266_request(srv.port, mac=mac, md5sum=md5(with_mode(img, 3))),
                              rep))
        ev = wait_for("report-installed", lambda: events(srv, mac, "report-installed"))
        eq(ev[0]["release"] if ev else None, rel["id"], "report by a flash-mode MD5 names the release")
        # the release's hash list is visible through the API
        got = srv.api("GET", "/api/v1/releases/%d" % rel["id"]).json
        hashes = {h["hex"]: h["what"] for h in got.get("device_hashes", [])}
        for mode in range(4):
            check(md5(with_mode(img, mode)) in hashes, "device_hashes lists mode %d" % mode)
        # a different image with the same version is still a different image
        other = arduino_bin(seed=82, mode=2)
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E1:11", md5sum=md5(other),
                                    version="3.0"))
        eq(r.status, 200, "another image reporting the same version is offered the release")
        # gzip releases are not rewritten: the inflated MD5 only
        import gzip as gz
        img2 = arduino_bin(seed=83, mode=2)
        gzimg = gz.compress(img2, 9)
        rel2 = srv.upload(gzimg, "4.0", "gz").json
        eq(srv.api("PUT", "/api/v1/devices/DE:BA:7A:B1:E1:12/channel", {"channel": "gz"}).status // 100, 2,
           "device on channel gz")
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E1:12", md5sum=md5(img2)))
        eq(r.status, 304, "gzip release: the inflated image's MD5 is current")
        got = srv.api("GET", "/api/v1/releases/%d" % rel2["id"]).json
        whats = [h["what"] for h in got.get("device_hashes", [])]
        check(not any("flash mode" in w for w in whats),
              "no flash-mode variants for a gzip release: %r" % whats)
        # a signed release (payload || signature || u32 length) runs as its payload:
        # getSketchSize() walks the app image, so the device's MD5 leaves the signature out
        import struct
        payload = arduino_bin(seed=84, mode=2)
        signed = payload + bytes(range(256)) + struct.pack("<I", 256)
        rel3 = srv.upload(signed, "5.0", "signed").json
        eq(srv.api("PUT", "/api/v1/devices/DE:BA:7A:B1:E1:13/channel", {"channel": "signed"})
           .status, 200, "device on channel signed")
        for what, reported in (("payload", payload), ("payload in QIO", with_mode(payload, 0))):
            r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E1:13", md5sum=md5(reported)))
            eq(r.status, 304, "signed release, device reports the %s MD5: 304" % what)
            check("runs release %d" % rel3["id"] in r.headers.get("x-updraft-reason", ""),
                  "signed: the reason names the release")
    finally:
        srv.stop()


def t_refresh():
    """A database written before the hash lists existed (schema 3): the server fills them
    in at start-up from the blobs."""
    srv = Server()
    data = srv.data
    img = arduino_bin(seed=91, mode=0)
    rel = srv.upload(img, "5.0", "stable").json
    srv.stop()
    srv.sql("DELETE FROM release_hashes WHERE what NOT IN ('file MD5', 'file SHA-256')",
            "UPDATE releases SET hash_rules=0")
    first = srv  # its temp dir holds the data: keep it until the end
    srv = Server(data=data)
    try:
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E1:20",
                                    md5sum=md5(with_mode(img, 3))))
        eq(r.status, 304, "after the start-up refresh the DOUT variant is recognised")
        got = srv.api("GET", "/api/v1/releases/%d" % rel["id"]).json
        eq(len(got.get("device_hashes", [])), 5, "file MD5, SHA-256 and 3 flash-mode variants")
    finally:
        srv.stop()
    del first
    check("computed the device hashes of 1 release" in srv.stderr,
          "start-up says it computed the hashes: %r" % srv.stderr[-300:])


def completed_downloads(srv, mac):
    return sum(e["kind"] == "download-completed" for e in events(srv, mac))


def check_and_download(srv, mac, md5sum, what, want=200):
    """One check of a device that still runs the image md5sum; waits until the server has
    recorded the completed download of an offer."""
    before = completed_downloads(srv, mac)
    r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=md5sum))
    eq(r.status, want, what)
    if r.status == 200:
        wait_for("download-completed (%s)" % what,
                 lambda: completed_downloads(srv, mac) > before)
    return r


def cli(srv, *args):
    env = dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
    import subprocess
    p = subprocess.run([t.BIN] + list(args), capture_output=True, text=True, env=env, timeout=30)
    return p.returncode, p.stdout, p.stderr


def t_backoff():
    # first failure: offered again at once; second: held an hour; third: no longer offered
    srv = Server(extra=["--failure-backoff", "0,1h"])
    try:
        img = arduino_bin(seed=101)
        rel = srv.upload(img, "6.0", "stable").json
        mac, old = "DE:BA:7A:B1:E2:01", "a43ad019932b627ab90ee35a94a764ee"
        check_and_download(srv, mac, old, "offered")
        # it downloaded and is back on its old image: failure 1, offered again at once
        check_and_download(srv, mac, old, "failure 1: offered again at once")
        held = wait_for("held event 1", lambda: events(srv, mac, "held"))
        check(held and "failed on this device 1 time: offered again at its next check"
              in held[0]["detail"], "held event after failure 1: %r" % held)
        # failure 2: held back for an hour (the check that records it was already answered
        # with the offer: each download that does not end up running counts)
        check_and_download(srv, mac, old, "failure 2 recorded")
        wait_for("held event 2", lambda: len(events(srv, mac, "held")) >= 2)
        r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=old))
        eq(r.status, 304, "failure 3 (the download before): no longer offered")
        wait_for("held event 3", lambda: len(events(srv, mac, "held")) >= 3)
        r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=old))
        eq(r.status, 304, "given up: 304")
        reason = r.headers.get("x-updraft-reason", "")
        check(("release %d (version 6.0) failed on this device 3 times" % rel["id"]) in reason
              and "updraft device retry %s" % mac in reason, "reason says why and how: %r" % reason)
        d = device(srv, mac)
        eq((d.get("held") or {}).get("failures"), 3, "device shows the hold")
        check(d.get("attention") and "updraft device retry" in d["attention"],
              "device needs attention: %r" % d.get("attention"))
        dec = [e for e in events(srv, mac, "declined") if "failed on this device" in e["detail"]]
        check(dec, "the refusal is an event")
        # listed as needing attention (API and CLI)
        lst = srv.api("GET", "/api/v1/devices?attention=1").json["devices"]
        eq([x["mac"] for x in lst], [mac], "only that device needs attention")
        rc, out, err = cli(srv, "device", "list", "--attention")
        check(rc == 0 and mac in out, "updraft device list --attention: %r %r" % (out, err))
        # nothing of this stops a newer release
        img2 = arduino_bin(seed=102)
        rel2 = srv.upload(img2, "6.1", "stable").json
        r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=old))
        eq(r.status, 200, "a newer release is offered despite the hold")
        eq(r.headers.get("x-version"), "6.1", "the newer release")
        # retry: channel back to the failed release, the CLI lifts the hold
        eq(srv.api("PUT", "/api/v1/devices/%s/pin" % mac, {"release": rel["id"]}).status, 200,
           "pin the failed release")
        r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=old))
        eq(r.status, 304, "pinned to the failed release: still held")
        rc, out, err = cli(srv, "device", "retry", mac)
        check(rc == 0 and "no release is held back" in out, "updraft device retry: %r %r" % (out, err))
        check(any(e["kind"] == "retry" for e in events(srv, mac)), "retry event")
        r = check_and_download(srv, mac, old, "after retry: offered again")
        eq(r.headers.get("x-version"), "6.0", "the failed release again")
        r = check_and_download(srv, mac, old, "after retry, still the old image: offered again")
        held_now = [e for e in events(srv, mac, "held") if e.get("release") == rel["id"]]
        eq(len(held_now), 4, "the downloads before the retry do not count again (one new failure)")
        # now it installs it: updated, nothing held
        r = srv.raw(esp8266_request(srv.port, mac=mac, md5sum=md5(img)))
        eq(r.status, 304, "installed")
        d = wait_for("updated", lambda: [x for x in [device(srv, mac)]
                                         if x["running_release"] == rel["id"]])
        eq(d[0].get("held") if d else "x", None, "hold gone after the update: %r" %
           (d and [(e["kind"], e["detail"]) for e in d[0]["history"][:8]]))
        # a device that reports a failure itself (x-updraft-report) is held as well
        mac2 = "DE:BA:7A:B1:E2:02"
        srv.api("DELETE", "/api/v1/devices/%s/pin" % mac)
        eq(srv.api("POST", "/api/v1/devices/%s/pin" % mac2, {"release": rel["id"]}).status, 200,
           "pin device 2")
        rep = "v=1;result=7;md5=%s;version=6.0;rollback=0" % md5(img)
        for i in range(3):
            srv.raw(t.with_report(esp8266_request(srv.port, mac=mac2, md5sum=old),
                                  rep.replace("result=7", "result=%d" % (7 + i))))
            wait_for("held %d" % i, lambda: len(events(srv, mac2, "held")) > i)
        r = srv.raw(esp8266_request(srv.port, mac=mac2, md5sum=old))
        eq(r.status, 304, "three reported failures: held")
        # bad option values are refused with what to write
        p = __import__("subprocess").run([t.BIN, "serve", "--failure-backoff", "5x"],
                                         capture_output=True, text=True, timeout=10)
        check(p.returncode == 2 and "--failure-backoff needs ages" in p.stderr,
              "bad --failure-backoff: %r" % p.stderr)
    finally:
        srv.stop()


GROUPS = {"imageid": t_imageid, "refresh": t_refresh, "backoff": t_backoff}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
