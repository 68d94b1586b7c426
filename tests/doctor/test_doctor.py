#!/usr/bin/env python3
"""Black-box tests of `updraft doctor`: the real binary against local misbehaving servers on
127.0.0.1 (every failure of spec esp8266-http-update.md section 7 and the ESP32 list), a
well-behaved one, HTTPS, and the real `updraft serve`. For each, doctor must give the code the
device's own client gives (spec section 2), name the problem in its cause, and exit 0 only
when a real device would update.

usage: test_doctor.py UPDRAFT MKIMAGE GROUP
GROUP: device redirects stalls tls serve loop tlsrec.  Python 3 standard library only."""
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BIN, MKIMAGE, GROUP = sys.argv[1], sys.argv[2], sys.argv[3]
FAILS = []
TMP = tempfile.TemporaryDirectory(prefix="updraft-doctor-test-")


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


def mkimage(kind, code=200000, seed=1, version="2.0.0"):
    path = os.path.join(TMP.name, "%s-%d-%d.bin" % (kind, code, seed))
    subprocess.run([MKIMAGE, kind, path, str(code), str(seed), version], check=True)
    return open(path, "rb").read()


APP = mkimage("esp8266-app")       # Arduino ESP8266 .bin for 4 MB (DIO)
E32 = mkimage("esp32-app")         # ESP32 app with app description and SHA-256
HTML = b"<!DOCTYPE html>\n<html><head><title>Update</title></head><body>No update</body></html>\n"


def md5(b):
    return hashlib.md5(b).hexdigest()


def in_mode(img, mode):
    """The image as an ESP8266 in flash mode `mode` holds it after installing it (spec 8)."""
    return img[:2] + bytes([mode]) + img[3:]


def device_md5s(img):
    """Every MD5 a device that installed img reports."""
    return {md5(in_mode(img, m)) for m in range(4)} | {md5(img)}


# ---- the misbehaving server ------------------------------------------------------------------

def file_response(method, headers, data, md5sum=None, ranges=True, extra=()):
    """200 (or 206/416 for a Range) with exact headers, as a good server sends it."""
    status, body, hdrs = "200 OK", data, []
    rng = headers.get("range")
    if ranges and rng and rng.startswith("bytes="):
        a, _, b = rng[6:].partition("-")
        first = int(a)
        last = int(b) if b else len(data) - 1
        if first >= len(data):
            return ("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%d\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n" % len(data)).encode()
        last = min(last, len(data) - 1)
        status, body = "206 Partial Content", data[first:last + 1]
        hdrs.append("Content-Range: bytes %d-%d/%d" % (first, last, len(data)))
    hdrs += ["Content-Type: application/octet-stream", "Content-Length: %d" % len(body),
             "Connection: close"]
    if ranges:
        hdrs.append("Accept-Ranges: bytes")
    if md5sum is not None:
        hdrs.append("x-MD5: " + md5sum)
    hdrs += list(extra)
    head = ("HTTP/1.1 %s\r\n%s\r\n\r\n" % (status, "\r\n".join(hdrs))).encode()
    return head if method == "HEAD" else head + body


def chunked(data, size=4000):
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def simple(status, body=b"", extra=""):
    return ("HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n" % (
        status, len(body), extra)).encode() + body


def littlefs(n):
    """A LittleFS image of n bytes (superblock as mklittlefs writes it)."""
    b = bytearray(b"\xff" * n)
    b[0:32] = bytes(32)
    b[0] = 1
    b[4:8] = bytes([3, 0, 0, 0x20])
    b[8:16] = b"littlefs"
    b[20:24] = (0x00020000).to_bytes(4, "little")
    b[24:28] = (4096).to_bytes(4, "little")
    b[28:32] = (n // 4096).to_bytes(4, "little")
    return bytes(b)


LFS = littlefs(1024000)  # the 4m1m area exactly: 0x300000..0x3FA000


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.settimeout(10)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    return
                buf += chunk
        except OSError:
            return
        raw = buf.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        self.server.requests.append(raw)
        lines = raw.decode("latin-1").split("\r\n")
        method, target = lines[0].split(" ")[:2]
        headers = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        url = urllib.parse.urlsplit(target)
        q = dict(urllib.parse.parse_qsl(url.query))
        try:
            self.route(s, method, url.path, q, headers)
        except OSError:
            pass

    def route(self, s, method, path, q, headers):
        img = E32 if q.get("img") == "esp32" else LFS if q.get("img") == "lfs" else APP
        # what the device runs (mkimage's ESP32 app ends at its appended SHA-256, so the
        # MD5 an Arduino-ESP32 device reports of it is the file's)
        runs = headers.get("x-esp8266-sketch-md5", "") or headers.get("x-esp32-sketch-md5", "")
        if path == "/static":  # a plain file server: the image, whatever the device runs
            s.sendall(file_response(method, headers, img, md5(img)))
        elif path == "/md5only":  # 304 only for the file's own MD5
            if runs == md5(img):
                s.sendall(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n")
            else:
                s.sendall(file_response(method, headers, img, md5(img)))
        elif runs in device_md5s(img):
            # a good server: "no update" for a device that runs the image (in any flash mode)
            s.sendall(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n")
        elif path == "/ok":
            s.sendall(file_response(method, headers, img, md5(img)))
        elif path == "/304":
            s.sendall(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n")
        elif path == "/chunked":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(img))
        elif path == "/nolength":
            s.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + img)
        elif path == "/html":
            s.sendall(simple("200 OK", HTML, "Content-Type: text/html\r\n"))
        elif path == "/md5wrong":
            s.sendall(file_response(method, headers, img, "0123456789abcdef0123456789abcdef"))
        elif path == "/md5short":
            s.sendall(file_response(method, headers, img, md5(img)[:31]))
        elif path == "/md5upper":
            s.sendall(file_response(method, headers, img, md5(img).upper()))
        elif path == "/range-ignored":
            s.sendall(file_response(method, headers, img, md5(img), ranges=False))
        elif path == "/stall-headers":
            time.sleep(int(q["ms"]) / 1000)
            s.sendall(file_response(method, headers, img, md5(img)))
        elif path == "/stall-body":
            r = file_response(method, headers, img, md5(img))
            cut = len(r) - len(img) // 2
            s.sendall(r[:cut])
            time.sleep(int(q["ms"]) / 1000)
            s.sendall(r[cut:])
        elif path == "/short":  # Content-Length larger than what is sent
            r = file_response(method, headers, img, md5(img))
            s.sendall(r[:-1000])
        elif path in ("/401", "/403", "/404", "/500"):
            text = {"/401": "401 Unauthorized", "/403": "403 Forbidden", "/404": "404 Not Found",
                    "/500": "500 Internal Server Error"}[path]
            s.sendall(simple(text, b"<h1>%s</h1>" % text.encode(), "Content-Type: text/html\r\n"))
        elif path == "/auth":
            want = "Basic " + base64.b64encode(b"user:secret").decode()
            if headers.get("authorization") != want:
                s.sendall(simple("401 Unauthorized", b"", 'WWW-Authenticate: Basic realm="fw"\r\n'))
            else:
                s.sendall(file_response(method, headers, img, md5(img)))
        elif path.startswith("/redirect"):
            code = path[len("/redirect"):] or "302"
            reason = {"301": "Moved Permanently", "302": "Found", "307": "Temporary Redirect",
                      "308": "Permanent Redirect"}[code]
            loc = "/ok" + ("?" + urllib.parse.urlencode(q) if q else "")
            s.sendall(simple("%s %s" % (code, reason), b"", "Location: %s\r\n" % loc))
        else:
            s.sendall(simple("404 Not Found"))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls_ctx=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests = []
        self.tls_ctx = tls_ctx
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self):
        s, a = super().get_request()
        if self.tls_ctx:
            s = self.tls_ctx.wrap_socket(s, server_side=True)
        return s, a

    def handle_error(self, request, client_address):
        pass  # a TLS handshake refused by doctor is expected in the tls group

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls_ctx else "http", self.server_address[1])


def doctor(url, *args, timeout=60):
    p = subprocess.run([BIN, "doctor", url, "--json", *args], capture_output=True, timeout=timeout)
    out = p.stdout.decode()
    try:
        js = json.loads(out)
    except ValueError:
        js = None
        check(False, "doctor %s %s: no JSON: %r %r" % (url, args, out[:300], p.stderr[:300]))
    return p.returncode, js


def checks(js):
    return {c["name"]: c for c in js["checks"]} if js else {}


def expect(url, code, rc, words=(), args=(), result=None, what=None):
    """Run doctor; compare the device code, the exit status and words in cause/fix."""
    what = what or "%s %s" % (url.split("/", 3)[-1], " ".join(args))
    got_rc, js = doctor(url, *args)
    if not js:
        return None
    eq(js["code"], code, what + ": device code")
    eq(got_rc, rc, what + ": exit status")
    eq(js["exit"], rc, what + ": exit in JSON")
    if result:
        eq(js["result"], result, what + ": result")
    text = js["cause"] + " " + js["fix"]
    for w in words:
        check(w.lower() in text.lower(), "%s: %r not in cause/fix: %s" % (what, w, text))
    return js


# ---- groups -----------------------------------------------------------------------------------

def t_device():
    srv = Server()
    u = srv.url
    # the well-behaved server: update, every extra check fine
    js = expect(u + "/ok", 0, 0, result="ok")
    c = checks(js)
    eq(js["would_update"], True, "ok: would update")
    eq(c["x-MD5"]["level"], "ok", "ok: x-MD5 matches")
    eq(c["image"]["level"], "ok", "ok: the inspector accepts the image")
    eq(c["range"]["level"], "ok", "ok: Range handled")
    eq(c["head"]["level"], "ok", "ok: HEAD handled")
    eq(js["body"]["md5"], md5(APP), "ok: body md5")
    # the request is the device's, byte for byte as the server received it
    req = js["exchanges"][0]["request"]
    check(req.encode() in srv.requests, "the request doctor reports is what the server got")
    check(req.startswith("GET /ok HTTP/1.0\r\nx-updraft-tool: doctor\r\n"
                         "Host: 127.0.0.1:%d\r\nUser-Agent: ESP8266-http-Update"
                         "\r\nConnection: close\r\nx-ESP8266-Chip-ID: " % srv.server_address[1]),
          "ESP8266 request line and first headers: %r" % req[:200])
    for h in ("x-ESP8266-STA-MAC: 5C:CF:7F:0A:1B:2C", "x-ESP8266-AP-MAC: 5E:CF:7F:0A:1B:2C",
              "x-ESP8266-free-space: 2744320", "x-ESP8266-sketch-size: 400000",
              "x-ESP8266-chip-size: 4194304", "x-ESP8266-mode: sketch",
              "x-ESP8266-Chip-ID: 662316"):
        check(h + "\r\n" in req, "request has %r" % h)
    check("x-ESP8266-version" not in req, "no version header unless --version")
    first = len(srv.requests)
    js = expect(u + "/ok", 0, 0, args=("--version", "1.0.0", "--mac", "DE:BA:7A:B1:E0:42",
                                       "--ap-mac", "DE:BA:7A:B1:E0:42",
                                       "--free-space", "1695744", "--sketch-size", "400000",
                                       "--sketch-md5", "a43ad019932b627ab90ee35a94a764ee",
                                       "--sdk-version", "2.5.0", "--chip-id", "15602487",
                                       "--no-probes"))
    # spec section 8: the exact request seen on the wire
    # (plus x-updraft-tool: doctor after the request line: updraft servers mark the device
    # as doctor's, issue 10; real devices never send it)
    want = ("GET /ok HTTP/1.0\r\nx-updraft-tool: doctor\r\n"
            "Host: 127.0.0.1:%d\r\nUser-Agent: ESP8266-http-Update\r\n"
            "Connection: close\r\nx-ESP8266-Chip-ID: 15602487\r\n"
            "x-ESP8266-STA-MAC: DE:BA:7A:B1:E0:42\r\nx-ESP8266-AP-MAC: DE:BA:7A:B1:E0:42\r\n"
            "x-ESP8266-free-space: 1695744\r\nx-ESP8266-sketch-size: 400000\r\n"
            "x-ESP8266-sketch-md5: a43ad019932b627ab90ee35a94a764ee\r\n"
            "x-ESP8266-chip-size: 4194304\r\nx-ESP8266-sdk-version: 2.5.0\r\n"
            "x-ESP8266-mode: sketch\r\nx-ESP8266-version: 1.0.0\r\nContent-Length: 0\r\n\r\n"
            % srv.server_address[1])
    eq(js["exchanges"][0]["request"], want, "spec 8 request, byte for byte")
    # (the device's first request: the loop check asks again as the updated device)
    eq(srv.requests[first], want.encode(), "spec 8 request as the server received it")

    # 304: no update, cleanly
    expect(u + "/304", 0, 0, ["304"], result="no-update")
    # section 7: -101 chunked / no length
    expect(u + "/chunked", -101, 1, ["Transfer-Encoding: chunked", "Content-Length",
                                     "switch off chunking"])
    js = expect(u + "/nolength", -101, 1, ["no Content-Length"])
    # -106: an HTML page with 200
    js = expect(u + "/html", -106, 1, ["HTML", "304"])
    # x-MD5 wrong (Updater 7) and short (-105); uppercase is fine for the ESP8266
    js = expect(u + "/md5wrong", 7, 1, ["0123456789abcdef0123456789abcdef", md5(APP)])
    eq(checks(js)["x-MD5"]["level"], "fail", "md5wrong: x-MD5 check fails")
    expect(u + "/md5short", -105, 1, ["31 characters", "32"])
    js = expect(u + "/md5upper", 0, 0)
    check("uppercase" in checks(js)["x-MD5"]["text"], "md5upper: warned about the case")
    js = expect(u + "/md5upper?img=esp32", 0, 0, args=("--as", "esp32"))
    check("case-sensitively" in checks(js)["x-MD5"]["text"], "md5upper: ESP32 libraries named")
    # Range ignored: the ESP8266 updates, doctor warns
    js = expect(u + "/range-ignored", 0, 0)
    c = checks(js)["range"]
    check(c["level"] == "warn" and "Range ignored" in c["text"], "range-ignored warned: %r" % c)
    # status codes
    expect(u + "/401", -108, 1, ["401", "setAuthorization"])
    expect(u + "/403", -103, 1, ["403"])
    expect(u + "/404", -102, 1, ["404", "304"])
    expect(u + "/500", -104, 1, ["500", "error log"])
    expect(u + "/401", -104, 1, ["401"], args=("--as", "esp32"))
    expect(u + "/404", -102, 1, ["404"], args=("--as", "esp32"))
    # credentials
    expect(u + "/auth", -108, 1, ["401"])
    expect(u + "/auth", 0, 0, args=("--user", "user", "--password", "secret", "--no-probes"))
    # too large for the free space: -100; exactly the length: Updater 4 (sector round-up)
    expect(u + "/ok", -100, 1, ["%d bytes" % len(APP), "100000", "free-space"],
           args=("--free-space", "100000"))
    expect(u + "/ok", 4, 1, ["4 KB sectors"], args=("--free-space", str(len(APP))))
    # built for 4 MB, chip of 1 MB: -107 (flash-map cores: Updater 9 after the write)
    expect(u + "/ok", -107, 1, ["4 MiB", "1 MiB"], args=("--chip-size", "1M", "--free-space",
                                                         "500000", "--sketch-size", "300000"))
    expect(u + "/ok", 9, 1, ["flash"], args=("--chip-size", "1M", "--free-space", "500000",
                                              "--sketch-size", "300000", "--flash-map-core"))
    # an ESP32 image for an ESP8266: the device takes it (code 0) and no longer boots
    js = expect(u + "/ok?img=esp32", 0, 1, ["ESP32"], result="ok")
    eq(js["bricks"], True, "esp32 image on esp8266 bricks")
    eq(js["would_update"], False, "esp32 image on esp8266: no update")
    # Arduino-ESP32: its image updates; an ESP8266 image fails activation (Update error 9)
    js = expect(u + "/ok?img=esp32", 0, 0, args=("--as", "esp32"))
    req = js["exchanges"][0]["request"]
    check("User-Agent: ESP32-http-Update\r\n" in req and "x-ESP32-free-space: 1310720\r\n" in req
          and "Cache-Control: no-cache\r\n" in req, "ESP32 request: %r" % req)
    expect(u + "/ok", 9, 1, ["esp_ota_set_boot_partition"], args=("--as", "esp32"))
    expect(u + "/ok?img=esp32", 9, 1, ["ESP32-C3"], args=("--as", "esp32", "--chip", "esp32c3"))
    expect(u + "/chunked?img=esp32", -101, 1, ["chunked"], args=("--as", "esp32"))
    expect(u + "/html", -106, 1, ["HTML"], args=("--as", "esp32"))
    # spiffs mode: the HTML page would be written over the filesystem
    js = expect(u + "/html", 0, 1, ["filesystem"], args=("--mode", "spiffs"))
    # spiffs mode: the filesystem area from the request and the core's layouts (issue 8
    # part 2): FS start = roundup(sketch-size) + free-space, end 0x3FA000 on 4 MB
    fs_args = ("--mode", "spiffs", "--sketch-size", "400000", "--no-probes")
    js = expect(u + "/ok?img=lfs", 0, 0, args=fs_args + ("--free-space", str(0x300000 - 401408)),
                result="ok")
    c = checks(js)
    eq(c["fit"]["level"], "ok", "LittleFS filling 4m1m: fits")
    js = expect(u + "/ok?img=lfs", -100, 1, args=fs_args + ("--free-space", str(0x380000 - 401408)))
    c = checks(js)
    check("499712" in c["fit"]["text"] and "1024000" in c["fit"]["text"],
          "fit names the area 0x380000..0x3FA000 (499712 bytes): %r" % c.get("fit"))
    # ESP-IDF esp_https_ota: HTTP/1.1, chunked with correct framing is fine
    js = expect(u + "/ok?img=esp32", 0, 0, args=("--as", "esp-idf"))
    check(js["exchanges"][0]["request"].startswith("GET /ok?img=esp32 HTTP/1.1\r\n"),
          "esp-idf request is HTTP/1.1")
    expect(u + "/chunked?img=esp32", 0, 0, args=("--as", "esp-idf", "--no-probes"))
    expect(u + "/nolength?img=esp32", -101, 1, ["Content-Length"], args=("--as", "esp-idf"))
    expect(u + "/ok", -106, 1, ["ESP_ERR_OTA_VALIDATE_FAILED"], args=("--as", "esp-idf"))
    expect(u + "/404", -102, 1, ["404"], args=("--as", "esp-idf"))
    # issue 10: a size problem is esp_https_ota's ESP_ERR_INVALID_SIZE, not -106
    js = expect(u + "/ok?img=esp32", 0x104, 1, ["ESP_ERR_INVALID_SIZE", "OTA slot"],
                args=("--as", "esp-idf", "--free-space", "4096", "--no-probes"))
    if js:
        eq(js["code_name"], "ESP_ERR_INVALID_SIZE", "esp-idf too big: code_name")
    out = subprocess.run([BIN, "doctor", u + "/ok?img=esp32", "--as", "esp-idf", "--free-space",
                          "4096", "--no-probes"], capture_output=True, timeout=60).stdout.decode()
    check("ESP_ERR_INVALID_SIZE" in out, "esp-idf too big: the human report names it: " + out)
    # nothing listens: -1
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    expect("http://127.0.0.1:%d/ok" % port, -1, 1, ["refused"])
    # human output: aligned, no colour when not a terminal
    p = subprocess.run([BIN, "doctor", u + "/chunked"], capture_output=True, timeout=60)
    out = p.stdout.decode()
    eq(p.returncode, 1, "human output exit status")
    check("\x1b[" not in out, "no colour when stdout is not a terminal")
    check(re.search(r"^  result     failed -101 HTTP_UE_SERVER_NOT_REPORT_SIZE", out, re.M),
          "human result line: %r" % out[:400])
    check(re.search(r"^  cause      .*Transfer-Encoding: chunked", out, re.M), "human cause line")
    # usage errors
    p = subprocess.run([BIN, "doctor"], capture_output=True, timeout=10)
    eq(p.returncode, 2, "no URL: exit 2")
    p = subprocess.run([BIN, "doctor", "ftp://x/y"], capture_output=True, timeout=10)
    eq(p.returncode, 2, "bad scheme: exit 2")
    p = subprocess.run([BIN, "doctor", "--help"], capture_output=True, timeout=10)
    check(p.returncode == 0 and b"Exit status" in p.stdout, "--help")
    srv.shutdown()


def t_redirects():
    srv = Server()
    u = srv.url
    # redirects off (the device's default): -104, and doctor says what following would give
    js = expect(u + "/redirect302", -104, 1, ["redirect", "/ok", "setFollowRedirects"])
    alt = js.get("redirects_alternative") or {}
    eq((alt.get("follow"), alt.get("result"), alt.get("code")), (True, "ok", 0),
       "302: with redirects followed the device would update")
    expect(u + "/redirect301", -104, 1, ["301"])
    # followed: updates; the second request carries none of the x-ESP8266 headers
    js = expect(u + "/redirect302", 0, 0, args=("--follow-redirects",))
    eq(len(js["exchanges"]), 2, "302 followed: two requests")
    second = js["exchanges"][1]["request"]
    check(second.startswith("GET /ok HTTP/1.0\r\n") and "x-ESP8266" not in second,
          "redirected request without device headers: %r" % second)
    alt = js.get("redirects_alternative") or {}
    eq((alt.get("follow"), alt.get("code")), (False, -104), "followed 302: without, -104")
    expect(u + "/redirect307", 0, 0, args=("--follow-redirects",))
    expect(u + "/redirect308", -104, 1, ["308"], args=("--follow-redirects",))
    # esp_https_ota follows on its own
    js = expect(u + "/redirect302?img=esp32", 0, 0, args=("--as", "esp-idf"))
    srv.shutdown()


def t_stalls():
    srv = Server()
    u = srv.url
    # a pause shorter than the timeout is fine; longer is the device's read timeout
    js = expect(u + "/stall-headers?ms=400", 0, 0, args=("--timeout", "3000", "--no-probes"))
    expect(u + "/stall-headers?ms=2500", -11, 1, ["within 700 ms"],
           args=("--timeout", "700", "--no-probes"))
    # a body that stalls: fine below the stream timeout, Updater 6 above it
    expect(u + "/stall-body?ms=300", 0, 0, args=("--stream-timeout", "3000", "--no-probes"))
    expect(u + "/stall-body?ms=2500", 6, 1, ["stalled", "700 ms"],
           args=("--stream-timeout", "700", "--no-probes"))
    # Content-Length larger than the bytes sent
    expect(u + "/short", 6, 1, ["closed", "Content-Length"], args=("--no-probes",))
    srv.shutdown()


def t_tls():
    if not shutil.which("openssl"):
        print("SKIPPED: no openssl command to make a test certificate")
        sys.exit(77)  # ctest: Skipped (SKIP_RETURN_CODE)
    cert, key = os.path.join(TMP.name, "cert.pem"), os.path.join(TMP.name, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server(ctx)
    u = srv.url
    js = expect(u + "/ok", -1, 1, ["certificate", "not trusted", "--insecure"])
    js = expect(u + "/ok", 0, 0, args=("--insecure",))
    c = checks(js)["tls"]
    check(c["level"] == "warn" and "NOT trusted" in c["text"], "--insecure still names it: %r" % c)
    js = expect(u + "/ok", 0, 0, args=("--cacert", cert))
    eq(checks(js)["tls"]["level"], "ok", "--cacert: verified")
    eq(checks(js)["range"]["level"], "ok", "Range probes over TLS")
    # plain HTTP to the TLS port
    expect(u.replace("https", "http") + "/ok", -5, 1, ["https://"], args=("--timeout", "2000"))
    srv.shutdown()


def t_serve():
    token = "doctor-test-token-0123456789"
    data = os.path.join(TMP.name, "serve-data")
    env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=token)
    proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    port = None
    deadline = time.time() + 10
    while time.time() < deadline and not port:
        line = proc.stdout.readline().decode()
        if not line:
            break
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)", line)
        port = int(m.group(1)) if m else None
    if not port:
        proc.kill()
        check(False, "updraft serve did not start")
        return
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(("POST /api/v1/releases?version=2.0.0&channel=stable HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n" % (token, len(APP))).encode()
                  + APP)
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
        s.close()
        check(resp.startswith(b"HTTP/1.1 201"), "release uploaded: %r" % resp[:200])
        u = "http://127.0.0.1:%d/update" % port
        js = expect(u, 0, 0, args=("--version", "1.0.0"), result="ok")
        c = checks(js)
        for name in ("x-MD5", "image", "fit", "range", "head", "length"):
            eq(c.get(name, {}).get("level"), "ok", "updraft serve: %s check" % name)
        eq(js["body"]["md5"], md5(APP), "updraft serve sent the release")
        # the device already runs it: 304, cleanly
        expect(u, 0, 0, args=("--version", "2.0.0", "--sketch-md5", md5(APP)), result="no-update")
        # a chip in another flash mode: after installing, its MD5 is another one, and
        # updraft recognises it (no update loop)
        for mode in ("qio", "dout"):
            js = expect(u, 0, 0, args=("--version", "1.0.0", "--flash-mode", mode),
                        result="ok")
            eq(checks(js).get("loop", {}).get("level"), "ok", "updraft serve, %s: no loop" % mode)
        # an ESP32 asking: nothing for it (the server keeps the ESP8266 image away)
        expect(u, 0, 0, args=("--as", "esp32"), result="no-update")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def t_loop():
    """Update loops (issue 8): a server that offers the image a device runs, or would run
    after installing it (another flash mode: the Updater rewrites byte 2)."""
    srv = Server()
    u = srv.url
    # a plain file server loops every stock ESPhttpUpdate device
    js = expect(u + "/static", 0, 1, args=("--version", "1.0.0"), result="ok")
    c = checks(js).get("loop", {})
    eq(c.get("level"), "fail", "static server: loop check fails")
    check("after installing the image the device reports sketch-md5 %s" % md5(APP)
          in c.get("text", ""), "static: names the MD5 reported after installing: %r" % c)
    eq(js and js["loop"], True, "static: loop in JSON")
    # the very image the device says it runs
    js = expect(u + "/static", 0, 1, args=("--sketch-md5", md5(APP)))
    check("offered the very image the device says it runs" in checks(js).get("loop", {}).get(
        "text", ""), "static: the very image: %r" % checks(js).get("loop"))
    # that image in another flash mode (a DIO build installed on a DOUT chip)
    js = expect(u + "/static", 0, 1, args=("--sketch-md5", md5(in_mode(APP, 3)),
                                           "--flash-mode", "dout"))
    t = checks(js).get("loop", {}).get("text", "")
    check("already runs in DOUT flash mode" in t and "byte 2 = 3" in t,
          "static: the image in another flash mode: %r" % t)
    # a server that knows only the file's MD5: fine on a DIO chip, a loop on a DOUT chip
    js = expect(u + "/md5only", 0, 0, args=("--flash-mode", "dio"), result="ok")
    eq(checks(js).get("loop", {}).get("level"), "ok", "md5only, same mode: no loop")
    js = expect(u + "/md5only", 0, 1, args=("--flash-mode", "dout"), result="ok")
    t = checks(js).get("loop", {}).get("text", "")
    check("update loop" in t and md5(in_mode(APP, 3)) in t and "DOUT" in t,
          "md5only, DOUT chip: the loop after the flash-mode rewrite: %r" % t)
    # a server that knows every variant: no loop in any mode
    for mode in ("qio", "qout", "dio", "dout"):
        js = expect(u + "/ok", 0, 0, args=("--flash-mode", mode), result="ok")
        eq(checks(js).get("loop", {}).get("level"), "ok", "good server, %s: no loop" % mode)


def t_tlsrec():
    """TLS records for small ESP8266 buffers against the real `updraft serve --tls-*`: which
    max_fragment_length values it accepts (asked as probeMaxFragmentLength asks), the records
    it sends for each while serving an image, and the RAM table, which docs/operations.md
    shows as this command prints it."""
    if not shutil.which("openssl"):
        print("SKIPPED: no openssl command to make a test certificate")
        sys.exit(77)
    cert, key = os.path.join(TMP.name, "cert.pem"), os.path.join(TMP.name, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    token = "doctor-test-token-0123456789"
    env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=token)
    proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data",
                             os.path.join(TMP.name, "tls-data"), "--tls-cert", cert,
                             "--tls-key", key], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    port = None
    deadline = time.time() + 10
    while time.time() < deadline and not port:
        line = proc.stdout.readline().decode()
        if not line:
            break
        m = re.match(r"listening on https://127\.0\.0\.1:(\d+)", line)
        port = int(m.group(1)) if m else None
    if not port:
        proc.kill()
        check(False, "updraft serve --tls-* did not start")
        return
    try:
        ctx = ssl.create_default_context(cafile=cert)
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                            server_hostname="127.0.0.1")
        s.sendall(("POST /api/v1/releases?version=2.0.0&channel=stable HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n" % (token, len(APP))).encode()
                  + APP)
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
        s.close()
        check(resp.startswith(b"HTTP/1.1 201"), "release uploaded: %r" % resp[:200])
        u = "https://127.0.0.1:%d/update" % port
        js = expect(u, 0, 0, args=("--version", "1.0.0", "--cacert", cert), result="ok")
        c = checks(js)
        check(c.get("mfln", {}).get("level") == "ok" and "512, 1024, 2048, 4096" in
              c["mfln"]["text"], "every max_fragment_length accepted: %r" % c.get("mfln"))
        eq(c.get("records", {}).get("level"), "ok", "records within what was asked: %r"
           % c.get("records"))
        rows = js.get("tls_buffers", [])
        eq([(r["receive"], r["send"], r["ram"], r["accepted"]) for r in rows],
           [(16384, 512, 17306, True), (512, 512, 1434, True), (1024, 1024, 2458, True),
            (2048, 2048, 4506, True), (4096, 4096, 8602, True)], "the RAM table")
        for r in rows[1:]:
            check(r["receive"] - 64 <= r["largest_record_data"] <= r["receive"],
                  "asking %d: records of up to %d bytes of data (the image fills them)"
                  % (r["receive"], r.get("largest_record_data", -1)))
        check(rows[0]["largest_record_data"] > 4096 - 64, "asking none: records as large as "
              "the server writes (%d)" % rows[0]["largest_record_data"])
        # the table docs/operations.md shows is the one this command prints
        p = subprocess.run([BIN, "doctor", u, "--version", "1.0.0", "--cacert", cert],
                           capture_output=True, text=True, timeout=60)
        table = [ln.strip() for ln in p.stdout.splitlines() if ln.strip().startswith("|")]
        doc = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                                "operations.md")).read()
        eq(len(table), 7, "doctor prints the table: %r" % p.stdout[-800:])
        for ln in table:
            check(ln in doc, "docs/operations.md has the line doctor prints: %r" % ln)
        # --no-probes asks nothing of the kind
        js = expect(u, 0, 0, args=("--version", "1.0.0", "--cacert", cert, "--no-probes"))
        check("mfln" not in checks(js) and "tls_buffers" not in js, "--no-probes: no TLS probes")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


GROUPS = {"device": t_device, "redirects": t_redirects, "stalls": t_stalls, "tls": t_tls,
          "serve": t_serve, "loop": t_loop, "tlsrec": t_tlsrec}

if __name__ == "__main__":
    t0 = time.time()
    GROUPS[GROUP]()
    TMP.cleanup()
    print("%s: %s in %.1f s" % (GROUP, "FAILED (%d)" % len(FAILS) if FAILS else "ok",
                                time.time() - t0))
    sys.exit(1 if FAILS else 0)
