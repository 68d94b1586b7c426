#!/usr/bin/env python3
"""Device truth (issue 8): the server recognises a release by every hash a device that
installed it reports, and stops offering a release that failed on a device. The real
`updraft serve` on 127.0.0.1, byte-exact device requests (shared/spec).

usage: test_truth.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: imageid refresh"""
import os
import sqlite3
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
    db = sqlite3.connect(os.path.join(data, "updraft.db"))
    db.execute("DELETE FROM release_hashes WHERE what NOT IN ('file MD5', 'file SHA-256')")
    db.execute("UPDATE releases SET hash_rules=0")
    db.commit()
    db.close()
    srv = Server(data=data)
    try:
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E1:20",
                                    md5sum=md5(with_mode(img, 3))))
        eq(r.status, 304, "after the start-up refresh the DOUT variant is recognised")
        got = srv.api("GET", "/api/v1/releases/%d" % rel["id"]).json
        eq(len(got.get("device_hashes", [])), 5, "file MD5, SHA-256 and 3 flash-mode variants")
    finally:
        srv.stop()
    check("computed the device hashes of 1 release" in srv.stderr,
          "start-up says it computed the hashes: %r" % srv.stderr[-300:])


GROUPS = {"imageid": t_imageid, "refresh": t_refresh}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
