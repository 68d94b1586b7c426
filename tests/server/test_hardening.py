#!/usr/bin/env python3
"""Strict parsing of the admin API and device identities (issue 12, "Hardening"): the real
`updraft serve` on 127.0.0.1.

usage: test_hardening.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: strict"""
import sys

import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request


def t_strict():
    srv = Server()
    try:
        rel = srv.upload(arduino_bin(seed=301), "1.0", "stable").json
        # MACs: 12 hex digits, or 6 pairs with one separator
        for bad in ("5C::CF7F0A1B2C", "5C:CF-7F:0A:1B:2C", "5CCF7F0A1B2", "5C:CF:7F:0A:1B:2C:",
                    ":5C:CF:7F:0A:1B:2", "5C:CF:7F:0A:1B:2G"):
            eq(srv.api("GET", "/api/v1/devices/" + bad).status, 400, "MAC %r refused" % bad)
        for good in ("5C:CF:7F:0A:1B:2C", "5c-cf-7f-0a-1b-2c", "5ccf7f0a1b2c"):
            eq(srv.api("GET", "/api/v1/devices/" + good).status, 404,
               "MAC %r read (never seen: 404)" % good)
        # a device header with a malformed MAC does not become an identity
        r = srv.raw(esp8266_request(srv.port, mac="5C::CF7F0A1B2C"))
        devs = srv.api("GET", "/api/v1/devices").json["devices"]
        check(all(d["mac"] != "5C:CF:7F:0A:1B:2C" for d in devs),
              "a malformed STA MAC is not taken as 5C:CF:7F:0A:1B:2C")
        # JSON with bytes after the value
        for body in (b'{"release": %d} x' % rel["id"], b'{"release": %d}{}' % rel["id"]):
            r = srv.api("PUT", "/api/v1/channels/beta", body, ctype="application/json")
            eq(r.status, 400, "JSON with trailing bytes %r refused" % body)
        r = srv.api("PUT", "/api/v1/channels/beta", b'{"release": %d}\n ' % rel["id"],
                    ctype="application/json")
        eq(r.status, 200, "trailing blanks are fine")
        # release ids: digits only
        for bad in ("+1", "%201", "-1", "1x", "0x1"):
            eq(srv.api("GET", "/api/v1/releases/" + bad).status, 404, "release id %r" % bad)
        eq(srv.api("GET", "/api/v1/releases/%d" % rel["id"]).status, 200, "release id")
        # the Bearer scheme in any case
        for scheme in ("bearer", "BEARER", "Bearer"):
            r = srv.raw(("GET /api/v1/releases HTTP/1.1\r\nHost: x\r\nAuthorization: %s %s\r\n"
                         "Connection: close\r\n\r\n" % (scheme, t.TOKEN)).encode())
            eq(r.status, 200, "Authorization scheme %r" % scheme)
        # HEAD where GET works
        for path in ("/api/v1/releases", "/api/v1/releases/%d" % rel["id"], "/api/v1/devices",
                     "/api/v1/channels", "/api/v1/events", "/api/v1"):
            r = srv.raw(("HEAD %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                         "Connection: close\r\n\r\n" % (path, t.TOKEN)).encode())
            eq((r.status, r.body), (200, b""), "HEAD %s" % path)
    finally:
        srv.stop()


GROUPS = {"strict": t_strict}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
