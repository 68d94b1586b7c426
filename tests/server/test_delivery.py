#!/usr/bin/env python3
"""Filesystem areas and gzip delivery (issue 8 parts 2 and 4), black-box: the real
`updraft serve` on 127.0.0.1, byte-exact ESP8266 requests (shared/spec), real corpus
images (shared/testdata/firmware; the groups say SKIPPED and exit 77 without it).

usage: test_delivery.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: fs gzip backfill"""
import os
import sys
import zlib

import test_server as t
from test_server import Server, check, eq, esp8266_request, events, md5

SKIP = 77
TASMOTA = "esp8266-app_tasmota-14.3.0.4-de_core2.7.8_1M.bin"          # core 2.7.8, DOUT
MINIMAL = "esp8266-app-gz_tasmota-minimal_release-2022_core2.7.4.9_1M.bin.gz"
MILIGHT = "esp8266-app_milight-hub_pio-d1mini_core2.5.x_4M.bin"        # core 2.5: no inflater
LITTLEFS = "esp8266-littlefs_wbec_1000K.bin"


def corpus(name):
    p = os.path.join(t.FWDIR, name)
    if not os.path.exists(p):
        print("SKIPPED: the real firmware corpus (%s) is not there; it lives in "
              "../shared/testdata/firmware beside the repository" % p)
        sys.exit(SKIP)
    with open(p, "rb") as f:
        return f.read()


def roundup(n):
    return (n + 4095) & ~4095


def spiffs_request(srv, mac, chip, fs_start, sketch=400000, path="/update"):
    """An ESP8266 in spiffs mode whose filesystem starts at fs_start: the request carries
    sketch-size and free-space = fs_start - roundup(sketch-size) (spec 3)."""
    return srv.raw(esp8266_request(srv.port, path=path, mac=mac, free=fs_start - roundup(sketch),
                                   size=sketch, chip=chip, mode="spiffs", version="1.0.0"))


def t_fs():
    lfs = corpus(LITTLEFS)
    eq(len(lfs), 1024000, "the LittleFS corpus image is 0xFA000 bytes")
    srv = Server()
    try:
        rel = srv.upload(lfs, "2.0.0", "stable").json
        eq(rel["mode"], "fs", "a filesystem release")
        # 4m1m: 0x300000..0x3FA000, exactly the image's size: offered
        r = spiffs_request(srv, "DE:BA:7A:00:00:01", 4 << 20, 0x300000)
        eq(r.status, 200, "4m1m: the filesystem image fits its area")
        check(r.body == lfs, "4m1m: the served bytes are the image")
        eq(r.headers.get("x-md5"), md5(lfs), "4m1m: x-MD5")
        # 2m1m: 0x100000..0x1FA000: fits too
        r = spiffs_request(srv, "DE:BA:7A:00:00:02", 2 << 20, 0x100000)
        eq(r.status, 200, "2m1m: fits")
        # one sector later start on 4 MB: the area is 4 KB short: 304 and why, not -100
        for mac, chip, start, words in (
                ("DE:BA:7A:00:00:03", 4 << 20, 0x301000, ("1024000", "1019904", "-100")),
                ("DE:BA:7A:00:00:04", 2 << 20, 0x180000, ("eagle.flash.2m512.ld", "-100")),
                ("DE:BA:7A:00:00:05", 1 << 20, 0xEB000, ("eagle.flash.1m64.ld", "65536")),
                ("DE:BA:7A:00:00:06", 4 << 20, 0x3FB000, ("eagle.flash.4m.ld",))):
            r = spiffs_request(srv, mac, chip, start)
            eq(r.status, 304, "FS at 0x%x on %d MB: 304" % (start, chip >> 20))
            reason = r.headers.get("x-updraft-reason", "")
            for w in words:
                check(w in reason, "FS at 0x%x: reason names %s: %r" % (start, w, reason))
        ev = events(srv, "DE:BA:7A:00:00:03")
        check(any("filesystem area" in e["detail"] for e in ev),
              "the declined check is recorded with the reason: %r" % ev)
        # a sketch-mode check of the same device is not affected by the filesystem rule
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:00:00:03"))
        eq(r.status, 304, "sketch mode: no application release, 304")
    finally:
        srv.stop()


def inflate(body):
    return zlib.decompress(body, 16 + 15)


def t_gzip():
    full = corpus(TASMOTA)
    minimal_gz = corpus(MINIMAL)
    minimal = inflate(minimal_gz)
    old = corpus(MILIGHT)
    srv = Server()
    try:
        m = srv.upload(minimal_gz, "14.0.0", "minimal").json
        eq(m["gzip"], None, "a gzip release gets no second gzip copy")
        o = srv.upload(old, "0.5.0").json
        check(o["gzip"] is not None, "the core 2.5 image gets a gzip copy too (for later)")
        a = srv.upload(full, "14.3.0.4", "stable").json
        g = a["gzip"]
        check(g is not None and g["size"] < len(full), "the release has a smaller gzip copy: %r" % g)
        check(g["min_stage"] > 0 and g["min_stage"] % 4096 == 0, "min stage in sectors: %r" % g)

        # 1. a device running tasmota-minimal (a release of ours, core 2.7.4: eboot inflates) on
        # a 1 MB board without filesystem: plain needs 220 sectors of 159 free, gzip fits
        mac = "DE:BA:7A:00:01:01"
        fs_start = 0xFB000
        req = esp8266_request(srv.port, mac=mac, free=fs_start - roundup(len(minimal)),
                              size=len(minimal), md5sum=md5(minimal), chip=1 << 20,
                              version="14.0.0")
        r = srv.raw(req)
        eq(r.status, 200, "known device, only the compressed image fits: 200")
        eq(r.headers.get("x-md5"), md5(r.body), "x-MD5 is the MD5 of the bytes sent")
        eq(r.headers.get("x-md5"), g["md5"], "x-MD5 is the gzip copy's")
        eq(r.headers.get("content-length"), str(g["size"]), "Content-Length of the copy")
        eq(r.body[:2], b"\x1f\x8b", "a gzip body (the image, not Content-Encoding)")
        check(inflate(r.body) == full, "the copy inflates to the release's file exactly")
        ev = events(srv, mac)
        off = [e for e in ev if e["kind"] == "offered"]
        check(off and "gzip copy" in off[0]["detail"] and "only form that fits" in off[0]["detail"],
              "the offer says which form and why: %r" % off)
        # after eboot inflated it, the device reports the inflated image's MD5: current
        r = srv.raw(esp8266_request(srv.port, mac=mac, free=fs_start - roundup(len(full)),
                                    size=len(full), md5sum=md5(full), chip=1 << 20,
                                    version="14.3.0.4"))
        eq(r.status, 304, "after the gzip install: 304, current")
        done = [e for e in events(srv, mac) if e["kind"] == "download-completed"]
        check(done and "gzip copy" in done[0]["detail"] and done[0]["bytes"] == g["size"],
              "download-completed names the gzip copy and its bytes: %r" % done)

        # 2. the same device on 1m64 (FS at 0xEB000): 143 sectors free, the copy needs 156
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:00:01:02",
                                    free=0xEB000 - roundup(len(minimal)), size=len(minimal),
                                    md5sum=md5(minimal), chip=1 << 20, version="14.0.0"))
        eq(r.status, 304, "1m64: neither form fits: 304")
        reason = r.headers.get("x-updraft-reason", "")
        check("gzip copy" in reason and "not sent" in reason,
              "the reason says why the gzip copy was not sent either: %r" % reason)

        # 3. known and plenty of room: the gzip copy all the same (fewer bytes on air)
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:00:01:03", free=2 << 20,
                                    size=len(minimal), md5sum=md5(minimal), chip=4 << 20,
                                    version="14.0.0"))
        eq(r.status, 200, "known device with room: 200")
        eq(r.headers.get("x-md5"), g["md5"], "known device with room: the gzip copy")

        # 4. unknown image: the plain image, never a gamble
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:00:01:04", free=2 << 20,
                                    size=400000, chip=4 << 20, version="14.0.0"))
        eq(r.status, 200, "unknown device: 200")
        eq(r.headers.get("x-md5"), md5(full), "unknown device: the plain image")
        check(r.body == full, "unknown device: the release's file")
        # ... and an unknown device whose sketch only fits compressed: 304, not gzip
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:00:01:05",
                                    free=fs_start - roundup(len(minimal)), size=len(minimal),
                                    chip=1 << 20, version="14.0.0"))
        eq(r.status, 304, "unknown device, plain does not fit: 304")
        check("not one of our releases" in r.headers.get("x-updraft-reason", ""),
              "the reason says the running image is unknown: %r" % r.headers)

        # 5. a device running a core 2.5 image (eboot without inflater): plain, and why
        mac = "DE:BA:7A:00:01:06"
        r = srv.raw(esp8266_request(srv.port, mac=mac, free=2 << 20, size=len(old),
                                    md5sum=md5(old), chip=4 << 20, version="0.5.0"))
        eq(r.status, 200, "old core: 200")
        eq(r.headers.get("x-md5"), md5(full), "old core: the plain image")
        off = [e for e in events(srv, mac) if e["kind"] == "offered"]
        check(off and "not its gzip copy" in off[0]["detail"] and "eboot" in off[0]["detail"],
              "the offer says why not gzip: %r" % off)

        # ... and a gzip release is not offered to it at all: its core answers -106
        r = srv.raw(esp8266_request(srv.port, path="/update/minimal", mac=mac, free=2 << 20,
                                    size=len(old), md5sum=md5(old), chip=4 << 20,
                                    version="0.5.0"))
        eq(r.status, 304, "old core, gzip release: 304")
        check("-106" in r.headers.get("x-updraft-reason", ""),
              "the reason says the device would fail -106: %r" % r.headers)
        # while a device whose image is unknown still gets the gzip release (the operator
        # chose gzip; as before)
        r = srv.raw(esp8266_request(srv.port, path="/update/minimal", mac="DE:BA:7A:00:01:07",
                                    free=2 << 20, size=400000, chip=4 << 20, version="0.5.0"))
        eq(r.status, 200, "unknown device, gzip release: 200")
        eq(r.headers.get("x-md5"), md5(minimal_gz), "the release's own gzip file")

        # 6. the registry's running release when the device sends no hash (after a gzip install
        # it reported none): device 1's row knows it runs release a
        d = srv.api("GET", "/api/v1/devices/DE:BA:7A:00:01:01").json
        eq(d["running_release"], a["id"], "the registry knows what device 1 installed")
    finally:
        srv.stop()


def t_backfill():
    """A database from before gzip copies (schema 5, no release_gzip rows): at start-up the
    server makes the copy of every ESP8266 Arduino release from its blob, and serves it."""
    full = corpus(TASMOTA)
    minimal_gz = corpus(MINIMAL)
    minimal = inflate(minimal_gz)
    srv = Server()
    data = srv.data
    a = srv.upload(full, "14.3.0.4", "stable").json
    srv.upload(minimal_gz, "14.0.0")
    want = a["gzip"]
    srv.stop()
    srv.sql("DELETE FROM release_gzip")
    first = srv  # its temporary directory holds data: keep it alive
    srv = Server(data=data)
    try:
        got = srv.api("GET", "/api/v1/releases/%d" % a["id"]).json
        eq(got["gzip"], want, "the copy made at start-up is the one made at upload")
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:00:02:01",
                                    free=0xFB000 - roundup(len(minimal)), size=len(minimal),
                                    md5sum=md5(minimal), chip=1 << 20, version="14.0.0"))
        eq(r.status, 200, "served after the backfill: %r" % r.headers.get("x-updraft-reason"))
        eq(r.headers.get("x-md5"), want["md5"], "the gzip copy")
    finally:
        srv.stop()
    check("made the gzip copy of 1 release" in srv.stderr,
          "start-up says so: %r" % srv.stderr[-300:])
    del first


GROUPS = {"fs": t_fs, "gzip": t_gzip, "backfill": t_backfill}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
