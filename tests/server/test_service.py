#!/usr/bin/env python3
"""updraft as a service (issue 14): liveness and readiness probes. The real `updraft
serve` on 127.0.0.1.

usage: test_service.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: health"""
import os
import sys

import test_server as t
from test_server import Server, arduino_bin, check, eq


def get(srv, path, method="GET"):
    return srv.raw(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" %
                    (method, path)).encode())


def t_health():
    srv = Server()
    try:
        eq(srv.upload(arduino_bin(seed=401), "1.0", "stable").status, 201, "upload")
        r = get(srv, "/healthz")
        eq((r.status, r.body), (200, b"ok\n"), "/healthz: alive, no token needed")
        r = get(srv, "/readyz")
        eq((r.status, r.body), (200, b"ready\n"), "/readyz: ready")
        r = get(srv, "/readyz", "HEAD")
        eq((r.status, r.body), (200, b""), "HEAD /readyz")
        # the blob store gone: not ready, and it says why
        blobs = os.path.join(srv.data, "blobs", "sha256")
        os.rename(blobs, blobs + ".away")
        try:
            r = get(srv, "/readyz")
            eq(r.status, 503, "/readyz without the blob store: 503")
            check(b"blob store" in r.body and b"cannot be read" in r.body,
                  "/readyz says why: %r" % r.body)
            eq(get(srv, "/healthz").status, 200, "/healthz stays 200 (the process is alive)")
        finally:
            os.rename(blobs + ".away", blobs)
        eq(get(srv, "/readyz").status, 200, "ready again")
    finally:
        srv.stop()


GROUPS = {"health": t_health}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
