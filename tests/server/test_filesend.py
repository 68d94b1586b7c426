#!/usr/bin/env python3
"""Download bodies sent by the server's own sender (src/server/filesend.c, docs/architecture.md
"The download path") on plain HTTP, against the real `updraft serve`: what a device sees and
what the registry records must be what libmicrohttpd's own sending gave.

- headers: a GET's header is libmicrohttpd's for the same response (HEAD still goes
  through the library: the same lines in the same order, Date aside), whole and ranged;
  the bodies are the release's bytes; /update records download-started and
  download-completed with the bytes.
- stall: a device that stops reading mid-body waits on a sender (updraft_downloads_waiting)
  and is cut after the connection timeout (--timeout), recorded as download-aborted
  "timed out"; the server answers meanwhile.
- reset: a device that resets mid-body: download-aborted "closed by the device", with
  about how many bytes it acknowledged (less than the image).
- shutdown: SIGTERM while 20 downloads wait for their devices: the server exits 0 at once,
  and each is recorded as download-aborted "server shutting down".
- many: 300 devices downloading at once, each reading slowly through a small window:
  every body complete and right, 300 download-completed records.

usage: test_filesend.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: headers stall reset shutdown many"""
import hashlib
import selectors
import socket
import struct
import time

import test_server as t
from test_server import Server, check, eq, esp32_app, events

BIG = esp32_app(seed=21, big=6 << 20)  # larger than any socket buffer on loopback
MAC = "DE:BA:7A:B1:E0:51"


def wait_for(what, fn, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    check(False, "timed out waiting for " + what)
    return None


def head_lines(raw_head):
    """The header lines of a response head, Date left out (it may change in between)."""
    return [ln for ln in raw_head.split("\r\n") if ln and not ln.lower().startswith("date:")]


def exchange(srv, request, read_body=True):
    """Send request; return (head text, body bytes) once the server closed."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
    s.sendall(request)
    buf = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
        if not read_body and b"\r\n\r\n" in buf:
            break
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def stalled(srv, url, rcvbuf=4096):
    """A connection that asked for url and read only the first bytes: the socket."""
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % url).encode())
    s.recv(2000)
    return s


def t_headers():
    srv = Server()
    try:
        rel = srv.upload(BIG, "5.0", "stable").json
        url = rel["url"]
        for rng in ("", "Range: bytes=100-2000000\r\n", "Range: bytes=-16\r\n"):
            req = "%%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (url, rng)
            hh, _ = exchange(srv, (req % "HEAD").encode(), read_body=False)
            gh, body = exchange(srv, (req % "GET").encode())
            eq(head_lines(gh), head_lines(hh), "GET's header is libmicrohttpd's (%r)" % rng)
            check(any(ln.lower().startswith("date: ") for ln in gh.split("\r\n")),
                  "GET's header has a Date")
            want = BIG if not rng else BIG[100:2000001] if "100-" in rng else BIG[-16:]
            eq(len(body), len(want), "body length (%r)" % rng)
            check(body == want, "body bytes (%r)" % rng)
        # /update: the device's download (an image that fits it), recorded with its bytes
        img = esp32_app(seed=23, big=1 << 20)
        eq(srv.upload(img, "5.1", "stable").status, 201, "upload 5.1")
        r = srv.raw(t.esp32_request(srv.port, mac=MAC, version="1.0"))
        eq((r.status, len(r.body)), (200, len(img)), "/update sends the release")
        check(r.body == img, "/update body")
        done = wait_for("download-completed", lambda: events(srv, MAC, "download-completed"))
        if done:
            eq(done[0].get("bytes"), len(img), "download-completed bytes")
        eq(len(events(srv, MAC, "download-started")), 1, "one download-started")
    finally:
        srv.stop()


def t_stall():
    srv = Server(extra=["--timeout", "2"])
    try:
        url = srv.upload(BIG, "5.0").json["url"]
        s = stalled(srv, url)
        t0 = time.time()
        # the request thread hands it over once the socket is full: at once, or nearly
        check(wait_for("the stalled download on a sender", lambda: t.metric_samples(
            srv, "updraft_downloads_waiting").get("updraft_downloads_waiting") == 1.0, 5),
            "the stalled download waits on a sender (updraft_downloads_waiting 1)")
        ev = wait_for("the stalled download's record",
                      lambda: events(srv, kind="download-aborted"), timeout=20)
        took = time.time() - t0
        check(1.5 <= took <= 8, "cut after about the timeout (2 s): %.1f s" % took)
        if ev:
            check("timed out" in ev[0]["detail"], "recorded as timed out: %r" % ev[0]["detail"])
        eq(srv.raw(b"GET /healthz HTTP/1.0\r\n\r\n").status, 200, "the server answers")
        eq(t.metric_samples(srv, "updraft_downloads_waiting"),
           {"updraft_downloads_waiting": 0.0}, "no download waits after the cut")
        s.close()
    finally:
        srv.stop()


def t_reset():
    srv = Server()
    try:
        url = srv.upload(BIG, "5.0").json["url"]
        s = stalled(srv, url)
        time.sleep(0.3)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        ev = wait_for("the reset download's record", lambda: events(srv, kind="download-aborted"))
        if ev:
            check("closed by the device" in ev[0]["detail"], "reset: %r" % ev[0]["detail"])
            b = ev[0].get("bytes")
            check(b is not None and 0 <= b < len(BIG), "about the bytes acknowledged: %r" % b)
        eq(events(srv, kind="download-completed"), [], "no download-completed")
    finally:
        srv.stop()


def t_shutdown():
    srv = Server()
    try:
        url = srv.upload(BIG, "5.0").json["url"]
        socks = [stalled(srv, url) for _ in range(20)]
        time.sleep(0.5)
    finally:
        t0 = time.time()
        srv.stop()  # checks: exit status 0
    check(time.time() - t0 < 5, "the stop does not wait for the devices")
    check("AddressSanitizer" not in srv.stderr and "runtime error" not in srv.stderr,
          "no sanitizer report: %s" % srv.stderr[-2000:])
    for s in socks:
        s.close()
    again = Server(data=srv.data)
    try:
        ev = events(again, kind="download-aborted")
        eq(len(ev), 20, "20 download-aborted records")
        check(all("server shutting down" in e["detail"] for e in ev),
              "recorded as the server shutting down: %r" % [e["detail"] for e in ev][:3])
    finally:
        again.stop()


def t_many():
    n = 300
    img = esp32_app(seed=22, big=1 << 20)
    srv = Server()
    try:
        url = srv.upload(img, "5.0").json["url"]
        sel = selectors.DefaultSelector()
        got = {}
        for i in range(n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % url).encode())
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, i)
            got[i] = bytearray()
        deadline = time.time() + 60
        open_n = n
        while open_n and time.time() < deadline:
            for key, _ in sel.select(1):
                try:
                    chunk = key.fileobj.recv(4096)  # small reads: a slow reader
                except BlockingIOError:
                    continue
                if chunk:
                    got[key.data] += chunk
                else:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    open_n -= 1
        eq(open_n, 0, "every download ended within 60 s")
        want = hashlib.md5(img).hexdigest()
        bad = [i for i in range(n) if hashlib.md5(bytes(got[i]).partition(b"\r\n\r\n")[2])
               .hexdigest() != want]
        eq(bad, [], "every body is the release")
        done = wait_for("300 download-completed", lambda: len(srv.api(
            "GET", "/api/v1/events?kind=download-completed&limit=1000").json["events"]) >= n)
        check(done, "300 download-completed records")
    finally:
        srv.stop()


if __name__ == "__main__":
    t.run_group({"headers": t_headers, "stall": t_stall, "reset": t_reset,
                 "shutdown": t_shutdown, "many": t_many})
