#!/usr/bin/env python3
"""Strict parsing of the admin API and device identities (issue 12, "Hardening"): the real
`updraft serve` on 127.0.0.1.

usage: test_hardening.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: strict heads uploads fulldisk"""
import os
import socket
import subprocess
import sys
import time

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


def whole_answer(port, req, timeout=5):
    """Send req on a new connection; the answer's status when it came complete (status line,
    headers, a body of exactly Content-Length bytes), else None."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = b""
    try:
        s.sendall(req)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass  # a reset after the whole answer is fine: the server did not read the rest
    s.close()
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1.1 "):
        return None
    lens = [ln.split(b":", 1)[1] for ln in head.split(b"\r\n")
            if ln.lower().startswith(b"content-length:")]
    if len(lens) != 1 or int(lens[0]) != len(body):
        return None
    return int(head.split(b" ", 2)[1])


def t_heads():
    """Every request gets a complete answer whatever the size of its head: the request heads
    of 3.0-3.9 KB that left libmicrohttpd no room for the answer got none at all."""
    srv = Server()
    try:
        img = arduino_bin(seed=311)
        eq(srv.upload(img, "2.0", "stable").status, 201, "release")
        macs = iter(range(1, 1 << 24))

        def device(pad):  # a new device each time: each is offered the image
            m = next(macs)
            req = esp8266_request(srv.port, version="1.0", mac="5C:CF:7F:%02X:%02X:%02X" % (
                m >> 16, (m >> 8) & 255, m & 255)).decode()
            return req.replace("HTTP/1.0", "HTTP/1.1").replace("\r\n\r\n", "\r\n" + pad + "\r\n")

        def fixed(text):
            return lambda pad: text % pad
        cases = [
            ("/", fixed("GET / HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"), 200),
            ("/update (an image)", device, 200),
            ("/api/v1/releases", fixed("GET /api/v1/releases HTTP/1.1\r\nHost: x\r\n"
                                       "Authorization: Bearer " + t.TOKEN +
                                       "\r\n%sConnection: close\r\n\r\n"), 200),
            ("/nope", fixed("GET /nope HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"),
             404),
        ]
        for name, make, want in cases:
            seen = {}
            for shape in ("one long header", "many short headers"):
                for n in range(0, 6000, 40):
                    if shape == "one long header":
                        pad = "X-Pad: %s\r\n" % ("a" * n)
                    else:
                        pad = "".join("X-P%d: bbbbbbbbbb\r\n" % i for i in range(n // 40))
                    st = whole_answer(srv.port, make(pad).encode())
                    seen.setdefault(st, n)
                    if st not in (want, 431):
                        check(False, "%s, %s of %d bytes: a complete answer (got %r)" % (
                            name, shape, n, st))
                        break
            check(want in seen and 431 in seen, "%s: %r answered up to a size, 431 past it (%r)"
                  % (name, want, seen))
        # a request line too long: 414, with the reason in the API's JSON
        r = whole_answer(srv.port, ("GET /api/v1/releases?x=%s HTTP/1.1\r\nHost: x\r\n"
                                    "Connection: close\r\n\r\n" % ("y" * 3000)).encode())
        eq(r, 414, "a 3 KB query string: 414")
        # the server kept serving devices
        r = srv.raw(esp8266_request(srv.port, version="1.0", mac="5C:CF:7F:AA:BB:CC"))
        eq(r.status, 200, "devices still served after the large heads")
        # the documented 4,095-byte release notes go through the CLI (in the body)
        notes = ("release notes with spaces & symbols = %/?# " * 200)[:4095]
        env = dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port,
                   UPDRAFT_TOKEN=t.TOKEN)
        path = os.path.join(srv.tmp.name, "fw.bin")
        with open(path, "wb") as f:
            f.write(arduino_bin(seed=312))
        c = subprocess.run([t.BIN, "release", "add", path, "--version", "2.1", "--notes", notes,
                            "--json"], capture_output=True, text=True, env=env, timeout=30)
        eq(c.returncode, 0, "release add with 4,095 bytes of notes: %s" % c.stderr)
        rels = srv.api("GET", "/api/v1/releases").json["releases"]
        check(any(x["notes"] == notes for x in rels), "the notes arrive whole")
        c = subprocess.run([t.BIN, "release", "add", path, "--version", "2.2", "--notes",
                            notes + "x"], capture_output=True, text=True, env=env, timeout=30)
        check(c.returncode == 2 and "4,095" in c.stderr, "4,096 bytes of notes: a CLI error: %r"
              % c.stderr)
    finally:
        srv.stop()
    # libmicrohttpd's line for each refused head, at most once a minute
    lines = [ln for ln in srv.stderr.splitlines() if "Request too big" in ln or
             "internal error" in ln]
    check(0 < len(lines) <= 4, "refused heads logged once per kind and minute, not %d times"
          % len(lines))


def upload_head(size, extra=""):
    return ("POST /api/v1/releases?version=9 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
            "\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n%s\r\n"
            % (t.TOKEN, size, extra)).encode()


def t_uploads():
    """An upload too large for --max-upload is refused before its body is read; the uploads
    in progress share a bounded room in <data>/tmp."""
    srv = Server(["--max-upload", "1"])  # 1 MiB; the uploads together: 2 MiB
    tmp = os.path.join(srv.data, "tmp")
    try:
        # 100 MB announced, not a byte of body sent: the answer comes anyway
        for extra in ("", "Expect: 100-continue\r\n"):
            eq(whole_answer(srv.port, upload_head(100 << 20, extra)), 413,
               "Content-Length 100 MiB %s: 413 before the body" % extra.strip())
        eq(os.listdir(tmp), [], "nothing written to <data>/tmp for a refused upload")
        # two uploads of 900,000 bytes in progress hold 1.8 of the 2 MiB
        held = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(upload_head(900000) + b"\xe9" * 1000)
            held.append(s)
        img = arduino_bin(seed=321)
        deadline, room = time.time() + 10, None
        while time.time() < deadline and (room or {}).get("used") != 1800000:
            room = srv.api("GET", "/api/v1").json["upload_room"]
            time.sleep(0.05)
        eq(room, {"used": 1800000, "max": 2 << 20}, "GET /api/v1: the two hold their room")
        eq(whole_answer(srv.port, upload_head(400000)), 503,
           "a third upload while the room is held: 503 before its body")
        r = srv.api("POST", "/api/v1/releases?version=3.0", img + b"\0" * (400000 - len(img)))
        eq(r.status, 503, "a third upload with its body: 503")
        check(r.json and r.json.get("kind") == "busy" and "retry" in r.json.get("error", ""),
              "it says the uploads in progress hold the room: %r" % (r.json,))
        eq(srv.api("GET", "/api/v1/releases").status, 200, "the API still answers")
        for s in held:
            s.close()
        deadline = time.time() + 10
        while time.time() < deadline:  # the server notices the two went away
            r = srv.api("POST", "/api/v1/releases?version=3.0", img)
            if r.status != 503:
                break
            time.sleep(0.2)
        eq(r.status, 201, "the room is given back when uploads end")
        eq(srv.api("GET", "/api/v1").json["upload_room"]["used"], 0, "all of it")
        eq(os.listdir(tmp), [], "no temp file left behind")
    finally:
        srv.stop()


def t_fulldisk():
    """A real full disk: a 24 MiB tmpfs mounted in a user+mount namespace of our own (no root
    needed: `unshare -rm`); the server runs in it (nsenter), the test fills it through
    /proc/PID/root. Records lost are counted and logged with the cause; the server starts on
    the full disk, says so, and serves the release it has."""
    import shutil
    import tempfile
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        print("SKIPPED: no unshare/nsenter (util-linux) to mount a small filesystem")
        sys.exit(t.SKIP)
    work = tempfile.TemporaryDirectory(prefix="updraft-fulldisk-")
    mnt = os.path.join(work.name, "disk")
    os.mkdir(mnt)
    holder = subprocess.Popen(["unshare", "-rm", "sh", "-c",
                               "mount -t tmpfs -o size=24m tmpfs '%s' && echo ready && "
                               "exec sleep 600" % mnt],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if holder.stdout.readline().strip() != b"ready":
        holder.kill()
        print("SKIPPED: this kernel does not let a user mount a tmpfs in a namespace of its "
              "own (unshare -rm): %s" % holder.stderr.read().decode().strip())
        sys.exit(t.SKIP)
    wrapper = os.path.join(work.name, "updraft-in-ns")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec nsenter -t %d -U -m --preserve-credentials %s \"$@\"\n"
                % (holder.pid, t.BIN))
    os.chmod(wrapper, 0o755)
    inside = "/proc/%d/root%s" % (holder.pid, mnt)  # the tmpfs, seen from out here
    real_bin, t.BIN = t.BIN, wrapper
    data = os.path.join(mnt, "data")

    def fill():  # unbuffered writes until the disk says no (it may be full already)
        try:
            fd = os.open(os.path.join(inside, "fill"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        except OSError:
            return
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError:
            pass
        finally:
            os.close(fd)

    def dev(srv, i):
        return srv.raw(esp8266_request(srv.port, version="1.0", mac="5C:CF:7F:00:10:%02X" % i))
    srv = None
    try:
        srv = Server(data=data)
        img = arduino_bin(seed=331)
        eq(srv.upload(img, "2.0", "stable").status, 201, "a release while there is room")
        fill()
        for i in range(12):  # devices keep being answered on the full disk
            eq(dev(srv, i).status, 200, "device %d offered the release on a full disk" % i)
        deadline, info = time.time() + 10, {}
        while time.time() < deadline:
            info = srv.api("GET", "/api/v1").json
            if info["dropped_device_records_by_cause"]["store_failed"] >= 12:
                break
            time.sleep(0.1)
        causes = info["dropped_device_records_by_cause"]
        check(causes["store_failed"] >= 12 and info["dropped_device_records"] >= 12,
              "records lost to the full disk counted: %r" % info)
        check("full" in causes.get("last_error", ""), "with the cause: %r" % causes)
        r = srv.upload(arduino_bin(seed=332), "2.1")
        eq(r.status, 507, "an upload on the full disk: 507")
        check("no space left" in (r.json or {}).get("error", ""), "saying so: %r" % (r.json,))
        os.unlink(os.path.join(inside, "fill"))
        eq(dev(srv, 99).status, 200, "a device after space was freed")
        deadline = time.time() + 10
        while time.time() < deadline and srv.api(
                "GET", "/api/v1/devices/5C:CF:7F:00:10:63").status != 200:
            time.sleep(0.1)
        eq(srv.api("GET", "/api/v1/devices/5C:CF:7F:00:10:63").status, 200,
           "recorded again once there is room")
        srv.stop()
        lost_lines = [ln for ln in srv.stderr.splitlines() if "device records lost" in ln]
        eq(len(lost_lines), 1, "the loss logged once in the minute, not per batch: %r"
           % lost_lines)
        # a start on the full disk: it says so, and serves the release it has
        fill()
        srv = Server(data=data)
        eq(dev(srv, 100).status, 200, "started on a full disk: the release is served")
        srv.stop()
        check("no space left on %s" % data in srv.stderr,
              "the start names the cause: %r" % srv.stderr)
        srv = None
    finally:
        t.BIN = real_bin
        if srv:
            srv.stop()
        holder.kill()
        holder.wait()


GROUPS = {"strict": t_strict, "heads": t_heads, "uploads": t_uploads,
          "fulldisk": t_fulldisk}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
