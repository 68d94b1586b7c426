#!/usr/bin/env python3
"""The dashboard's server side (issue 11, docs/dashboard.md): its embedded files (ETag, 304,
gzip, HEAD, Content-Types, security headers) and its sessions (sign-in, the cookie, CSRF and
Origin on writes, sign-out, idle and absolute expiry, a revoked token, restarts), against
the real `updraft serve` on 127.0.0.1. The browser itself: tests/web.

usage: test_web.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: assets sessions expiry heads sort tls"""
import gzip
import json
import os
import re
import time

import test_server as t
from test_server import Server, check, eq

WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")
CSP_PARTS = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'",
             "frame-ancestors 'none'", "form-action 'self'")


def raw_answer(srv, request):
    """Send request bytes; (status, headers dict, body) without test_server's checks (an
    asset may be gzip-encoded)."""
    import socket
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(request)
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return int(lines[0].split()[1]), {k: v[-1] for k, v in hdrs.items()}, body, hdrs


def req(srv, method, path, headers=None, body=b""):
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    if body or method in ("POST", "PUT", "DELETE"):
        h += "Content-Length: %d\r\n" % len(body)
    return raw_answer(srv, ("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n"
                            % (method, path, srv.port, h)).encode() + body)


def web_files():
    out = {}
    for d, _, files in os.walk(WEB):
        for f in files:
            p = os.path.join(d, f)
            out["/ui/" + os.path.relpath(p, WEB).replace(os.sep, "/")] = open(p, "rb").read()
    return out


def security_headers(h, what):
    csp = h.get("content-security-policy", "")
    for part in CSP_PARTS:
        check(part in csp, "%s: the CSP has %s: %r" % (what, part, csp))
    check("unsafe-inline" not in csp and "unsafe-eval" not in csp, what + ": nothing unsafe")
    eq(h.get("x-content-type-options"), "nosniff", what + ": nosniff")
    eq(h.get("referrer-policy"), "no-referrer", what + ": Referrer-Policy")


def t_assets():
    srv = Server()
    try:
        files = web_files()
        check("/ui/index.html" in files and "/ui/js/app.js" in files, "web/ has the shell")
        types = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
        for path, data in sorted(files.items()):
            st, h, body, _ = req(srv, "GET", path)
            eq(st, 200, "GET " + path)
            eq(body, data, path + ": the file's bytes, as in web/ (no Accept-Encoding: plain)")
            eq(h.get("content-type"), types[os.path.splitext(path)[1]], path + ": Content-Type")
            check(re.fullmatch(r'"[0-9a-f]{16}"', h.get("etag", "")), path + ": a strong ETag: %r"
                  % h.get("etag"))
            eq(h.get("cache-control"), "no-cache", path + ": revalidated every time")
            security_headers(h, path)
            # the same ETag means the same bytes: 304 with no body, for either form
            st2, h2, body2, _ = req(srv, "GET", path, {"If-None-Match": h["etag"]})
            eq(st2, 304, path + ": If-None-Match with its ETag")
            eq(body2, b"", path + ": a 304 has no body")
            eq(h2.get("etag"), h["etag"], path + ": the 304 names the ETag")
            st3, _, _, _ = req(srv, "GET", path, {"If-None-Match": '"0000000000000000", W/' +
                                                  h["etag"]})
            eq(st3, 304, path + ": a weak match in a list is a match (RFC 9110 13.1.2)")
            st4, _, body4, _ = req(srv, "GET", path, {"If-None-Match": '"0000000000000000"'})
            eq((st4, body4), (200, data), path + ": another ETag: the file")
            # HEAD: the headers of GET, no body
            st5, h5, body5, _ = req(srv, "HEAD", path)
            eq((st5, body5), (200, b""), "HEAD " + path)
            eq(h5.get("content-length"), str(len(data)), "HEAD %s: Content-Length of GET" % path)
            eq(h5.get("etag"), h["etag"], "HEAD %s: ETag" % path)
        # gzip when accepted (text files of some size), never when refused
        data = files["/ui/js/app.js"]
        st, h, body, _ = req(srv, "GET", "/ui/js/app.js", {"Accept-Encoding": "gzip, deflate, br"})
        eq(st, 200, "app.js with gzip accepted")
        eq(h.get("content-encoding"), "gzip", "app.js: gzip")
        eq(gzip.decompress(body), data, "app.js: the gzip copy inflates to the file")
        check(len(body) < len(data), "app.js: gzip is smaller (%d < %d)" % (len(body), len(data)))
        eq(h.get("vary"), "Accept-Encoding", "app.js: Vary")
        check(h.get("etag") and h["etag"].endswith('.gz"'), "the gzip copy has an ETag of its own")
        st, h304, _, _ = req(srv, "GET", "/ui/js/app.js", {"Accept-Encoding": "gzip",
                                                           "If-None-Match": h["etag"]})
        eq(st, 304, "the gzip copy's ETag: 304")
        for ae in ("gzip;q=0", "identity", "br", "gzip;q=0.000, br", "x-gzip-not"):
            st, h2, body2, _ = req(srv, "GET", "/ui/js/app.js", {"Accept-Encoding": ae})
            eq((st, body2, h2.get("content-encoding")), (200, data, None),
               "Accept-Encoding %r: the plain file" % ae)
        st, h2, body2, _ = req(srv, "GET", "/ui/js/app.js", {"Accept-Encoding": "br, GZIP;q=0.5"})
        eq(h2.get("content-encoding"), "gzip", "gzip;q=0.5 in any case: gzip")
        # Chart.js from Debian's libjs-chart.js, embedded like the rest
        st, h, body, _ = req(srv, "GET", "/ui/vendor/chart.min.js")
        eq(st, 200, "Chart.js is served")
        check(b"Chart.js v" in body[:200], "it is Chart.js")
        eq(body, open("/usr/share/javascript/chart.js/chart.min.js", "rb").read(),
           "the package's file as it is")
        # GET / is the shell
        st, h, body, _ = req(srv, "GET", "/")
        eq((st, body), (200, files["/ui/index.html"]), "GET / is web/index.html")
        security_headers(h, "/")
        check(b"<script" not in body or b'<script type="module" src="/ui/' in body,
              "index.html has no inline script")
        for path, data in files.items():
            if path.endswith(".html"):
                check(not re.search(rb"<script(?![^>]*\bsrc=)", data), path + ": no inline script")
                check(not re.search(rb"\sstyle=|<style", data), path + ": no inline style")
                check(not re.search(rb"\son[a-z]+=", data), path + ": no inline handler")
            if path.endswith(".js"):
                check(b"innerHTML" not in data or path.endswith("dom.js"),
                      path + ": no innerHTML (dom.js builds elements with text)")
        # unknown file, other methods, traversal attempts
        for bad in ("/ui/nope.js", "/ui/", "/ui/../srv.h", "/ui/js/../../index.html",
                    "/ui/js/app.js/"):
            st, h, body, _ = req(srv, "GET", bad)
            eq(st, 404, "GET %s: 404" % bad)
            security_headers(h, "404 " + bad)
        st, h, _, _ = req(srv, "POST", "/ui/js/app.js")
        eq(st, 405, "POST to a file: 405")
        st, h, _, _ = req(srv, "DELETE", "/")
        eq((st, h.get("allow")), (405, "GET, HEAD"), "DELETE /: 405 with Allow")
        # the device paths are untouched
        r = srv.raw(t.esp8266_request(srv.port))
        eq(r.status, 304, "a device check still answers (no release: 304)")
    finally:
        srv.stop()


def sign_in(srv, token=t.TOKEN, headers=None):
    body = json.dumps({"token": token}).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return req(srv, "POST", "/api/v1/session", h, body)


def cookie_of(h_all):
    for v in h_all.get("set-cookie", []):
        m = re.match(r"updraft_session=([0-9a-f]*);", v)
        if m:
            return m.group(1), v
    return None, None


def with_cookie(cookie, csrf=None, origin=None, **extra):
    h = {"Cookie": "updraft_session=" + cookie}
    if csrf is not None:
        h["X-CSRF-Token"] = csrf
    if origin is not None:
        h["Origin"] = origin
    h.update(extra)
    return h


def t_sessions():
    srv = Server()
    try:
        # wrong tokens: refused with the server's words, counted as failed authentication
        st, h, body, _ = sign_in(srv, "not-the-token")
        eq(st, 401, "a wrong token: 401")
        check("wrong admin token" in json.loads(body)["error"], "says the token is wrong")
        st, _, body, hall = sign_in(srv)
        eq(st, 200, "the admin token signs in")
        j = json.loads(body)
        eq((j["name"], j["role"]), ("admin-token", "admin"), "who signed in")
        check(re.fullmatch(r"[0-9a-f]{64}", j["csrf"] or ""), "a CSRF value: %r" % j.get("csrf"))
        check(j.get("expires"), "when it ends")
        cookie, line = cookie_of(hall)
        check(cookie and len(cookie) == 64, "a 256-bit cookie: %r" % line)
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"):
            check(attr in line, "the cookie has %s: %r" % (attr, line))
        check("Secure" not in line, "no Secure over plain HTTP: %r" % line)
        st, h, _, hall2 = sign_in(srv, headers={"X-Forwarded-Proto": "https"})
        check("; Secure" in (cookie_of(hall2)[1] or ""), "Secure behind a TLS proxy that says so")
        eq(h.get("cache-control"), "no-store", "the sign-in's answer (the CSRF value) is not kept")
        other = cookie_of(hall2)[0]  # a second session of the same token
        # another site's page may not sign the browser in (login CSRF); the dashboard may
        for origin in ("http://evil.example", "http://127.0.0.1:%d.evil.example" % srv.port,
                       "null"):
            st, _, body, hall3 = sign_in(srv, headers={"Origin": origin})
            eq((st, (json.loads(body) or {}).get("kind")), (403, "origin"),
               "a sign-in from Origin %r: 403" % origin)
            eq(cookie_of(hall3)[0], None, "no cookie for it")
        st, _, _, _ = sign_in(srv, headers={"Origin": "http://127.0.0.1:%d" % srv.port})
        eq(st, 200, "a sign-in from the dashboard's own page")
        # the cookie authenticates; GET /session says who and gives the CSRF value again
        st, _, body, _ = req(srv, "GET", "/api/v1/session", with_cookie(cookie))
        eq(st, 200, "GET /session with the cookie")
        eq((json.loads(body)["csrf"], json.loads(body)["via"]), (j["csrf"], "session"),
           "same CSRF value, via the session")
        st, _, body, _ = req(srv, "GET", "/api/v1/devices", with_cookie(cookie))
        eq(st, 200, "the API reads with the cookie")
        # a write needs X-CSRF-Token (and a same-origin Origin when one is sent)
        body_tags = json.dumps({"add": ["lab"], "filter": ""}).encode()
        tags = ("POST", "/api/v1/devices/tags")
        st, _, body, _ = req(srv, *tags, with_cookie(cookie), body_tags)
        eq((st, json.loads(body)["kind"]), (403, "csrf"), "a write without X-CSRF-Token: 403")
        st, _, body, _ = req(srv, *tags, with_cookie(cookie, "0" * 64), body_tags)
        eq((st, json.loads(body)["kind"]), (403, "csrf"), "a wrong X-CSRF-Token: 403")
        st, _, body, _ = req(srv, *tags, with_cookie(cookie, j["csrf"], "http://evil.example"),
                             body_tags)
        eq((st, json.loads(body)["kind"]), (403, "origin"), "another site's Origin: 403")
        check("evil.example" in json.loads(body)["error"], "names the origin")
        # an Origin is this server only when it names its host and port exactly; one that
        # is not http(s) at all (a sandboxed frame's "null", a file) is another page
        for origin in ("http://127.0.0.1:%d.evil.example" % srv.port,
                       "http://127.0.0.1:%d@evil.example" % srv.port,
                       "http://127.0.0.1:%d" % (srv.port + 1), "http://127.0.0.1", "null",
                       "file://", "127.0.0.1:%d" % srv.port, ""):
            st, _, body, _ = req(srv, *tags, with_cookie(cookie, j["csrf"], origin), body_tags)
            eq((st, (json.loads(body) or {}).get("kind")), (403, "origin"),
               "Origin %r: another page's write, 403" % origin)
        for origin in (None, "http://127.0.0.1:%d" % srv.port, "https://127.0.0.1:%d" % srv.port):
            st, _, body, _ = req(srv, *tags, with_cookie(cookie, j["csrf"], origin),
                                 body_tags)
            check(st not in (401, 403), "a write with the CSRF value (Origin %r): %d %r" % (
                origin, st, body[:200]))
        # a bearer token needs no CSRF value (it is never sent by a browser on its own)
        r = srv.api("POST", "/api/v1/devices/tags", {"add": ["lab"], "filter": ""})
        check(r.status not in (401, 403), "a bearer write needs no CSRF: %d" % r.status)
        # the sign-in and the sign-out are audit events naming the token; no secret in them
        # sign-out: the session is gone on the server, the cookie is cleared
        st, _, _, _ = req(srv, "DELETE", "/api/v1/session", with_cookie(cookie))
        eq(st, 403, "sign-out is a write: without the CSRF value, 403")
        st, _, body, hall = req(srv, "DELETE", "/api/v1/session", with_cookie(cookie, j["csrf"]))
        eq(st, 200, "sign out")
        c2, line = cookie_of(hall)
        check(c2 == "" and "Max-Age=0" in line, "the cookie is cleared: %r" % line)
        st, _, body, _ = req(srv, "GET", "/api/v1/devices", with_cookie(cookie))
        eq(st, 401, "the old cookie after sign-out: 401")
        check("sign in again" in json.loads(body)["error"], "says to sign in again")
        st, _, _, _ = req(srv, "GET", "/api/v1/session", with_cookie(other))
        eq(st, 200, "the sign-out ends that session only: another browser's goes on")
        # an upload is a write too: a release or a preview sent with the cookie alone
        img = t.arduino_bin(seed=77)
        for path in ("/api/v1/releases?version=7.7.7&channel=stable",
                     "/api/v1/inspect?version=7.7.7"):
            # as curl sends an upload: Expect: 100-continue, the body only when asked (the
            # refusal comes first, and a body sent anyway would meet a closed socket)
            import socket
            sk = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            sk.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: updraft_session=%s"
                        "\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n"
                        "Expect: 100-continue\r\nConnection: close\r\n\r\n"
                        % (path, srv.port, other, len(img))).encode())
            buf = b""
            while True:
                d = sk.recv(65536)
                if not d:
                    break
                buf += d
                if buf.startswith(b"HTTP/1.1 100") and b"\r\n\r\n" in buf:
                    sk.sendall(img)  # asked for the body: not refused before it
                    buf = buf.partition(b"\r\n\r\n")[2]
            sk.close()
            st = int(buf.split(b" ", 2)[1]) if buf else 0
            body = buf.partition(b"\r\n\r\n")[2]
            eq((st, (json.loads(body) or {}).get("kind")), (403, "csrf"),
               "POST %s with the cookie and no X-CSRF-Token: 403" % path)
        eq(srv.api("GET", "/api/v1/releases").json["releases"], [], "no release was made")
        r = srv.api("GET", "/api/v1/events?kind=audit")
        details = [e["detail"] for e in r.json["events"]]
        check(any(d.startswith("sign in to the dashboard") for d in details),
              "the sign-in is audited: %r" % details[:5])
        check(any(d.startswith("sign out of the dashboard") for d in details),
              "the sign-out is audited")
        check(not any(t.TOKEN in d for d in details), "no token in the audit trail")
        # a named viewer: reads, its writes refused by role; a ci token cannot sign in
        r = srv.api("POST", "/api/v1/tokens", {"name": "web-viewer", "role": "viewer"})
        viewer = r.json["token"]
        r = srv.api("POST", "/api/v1/tokens", {"name": "web-ci", "role": "ci"})
        ci = r.json["token"]
        st, _, body, _ = sign_in(srv, ci)
        eq((st, json.loads(body)["kind"]), (403, "forbidden"), "a ci token may not sign in")
        st, _, body, hall = sign_in(srv, viewer)
        eq((st, json.loads(body)["role"]), (200, "viewer"), "a viewer signs in")
        vcookie, vcsrf = cookie_of(hall)[0], json.loads(body)["csrf"]
        st, _, body, _ = req(srv, *tags, with_cookie(vcookie, vcsrf), body_tags)
        eq((st, json.loads(body)["kind"]), (403, "forbidden"), "the viewer's write: by role")
        check("web-viewer" in json.loads(body)["error"], "names the token")
        # a session survives a restart of the server (sessions are in the store)
        srv.stop()
        srv2 = Server(data=srv.data)
        try:
            st, _, body, _ = req(srv2, "GET", "/api/v1/session", with_cookie(vcookie))
            eq((st, json.loads(body).get("name")), (200, "web-viewer"),
               "the session is still there after a restart")
            # revoking the token ends its sessions at once
            r = srv2.api("DELETE", "/api/v1/tokens/web-viewer")
            eq(r.status, 200, "revoke the viewer's token")
            st, _, _, _ = req(srv2, "GET", "/api/v1/session", with_cookie(vcookie))
            eq(st, 401, "a revoked token's session: 401")
            # a cookie that is not ours: 401, never counted as a failed authentication
            for junk in ("x", "0" * 64, "A" * 64, "a" * 65):
                st, _, _, _ = req(srv2, "GET", "/api/v1/session", with_cookie(junk))
                eq(st, 401, "cookie %r: 401" % junk[:8])
            r = srv2.api("GET", "/api/v1/")
            eq(r.json["auth_failures"]["admin"], 0, "stale cookies are not failed logins")
            # bootstrap token replaced: its sessions end
            st, _, body, hall = sign_in(srv2)
            acookie = cookie_of(hall)[0]
            srv2.stop()
            srv3 = Server(data=srv.data, env_token=False)  # the token file: another token
            try:
                st, _, _, _ = req(srv3, "GET", "/api/v1/session", with_cookie(acookie))
                eq(st, 401, "the bootstrap token changed: its sessions end")
            finally:
                srv3.stop()
        finally:
            if srv2.proc.poll() is None:
                srv2.stop()
        # the sign-in is rate-limited like every other authentication
        srv4 = Server()
        try:
            codes = [sign_in(srv4, "wrong-%d" % i)[0] for i in range(12)]
            check(429 in codes, "failed sign-ins are limited: %r" % codes)
            st, h, body, _ = sign_in(srv4)
            eq(st, 429, "even the right token waits then (the address is blocked)")
            check(h.get("retry-after"), "Retry-After")
        finally:
            srv4.stop()
    finally:
        if srv.proc.poll() is None:
            srv.stop()


def t_expiry():
    srv = Server(extra=["--session-idle", "2s", "--session-max", "4s"])
    try:
        st, _, body, hall = sign_in(srv)
        eq(st, 200, "sign in")
        cookie, line = cookie_of(hall)
        check("Max-Age=4;" in line, "Max-Age is --session-max: %r" % line)
        eq(json.loads(body)["idle_timeout"], 2, "idle_timeout is --session-idle")
        # used every second: stays past the idle time, ends at the absolute time
        ok_until = None
        start = time.time()
        while time.time() - start < 6:
            st, _, _, _ = req(srv, "GET", "/api/v1/session", with_cookie(cookie))
            if st != 200:
                break
            ok_until = time.time() - start
            time.sleep(1)
        check(ok_until is not None and ok_until >= 2.0,
              "in use, it outlives the idle time (until %.1f s)" % (ok_until or 0))
        check(time.time() - start <= 5.5, "it ends at --session-max (4 s), not later")
        # unused: ends after the idle time (touches are at most once a minute, so the
        # idle clock runs from the sign-in here)
        st, _, _, hall = sign_in(srv)
        c2 = cookie_of(hall)[0]
        st, _, _, _ = req(srv, "GET", "/api/v1/session", with_cookie(c2))
        eq(st, 200, "a fresh session")
        time.sleep(2.5)
        st, _, _, _ = req(srv, "GET", "/api/v1/session", with_cookie(c2))
        eq(st, 401, "idle past --session-idle: over")
        r = srv.api("GET", "/api/v1/session")
        eq((r.status, r.json["via"], r.json["csrf"]), (200, "token", None),
           "GET /session with a bearer token: who, no CSRF value")
    finally:
        srv.stop()
    # a session ends with the named token it was opened with: when the token expires
    srv = Server()
    try:
        r = srv.api("POST", "/api/v1/tokens", {"name": "brief", "role": "operator",
                                               "expires_in": 2})
        eq(r.status, 201, "a token that expires in 2 s: %r" % r.body[:200])
        st, _, body, hall = sign_in(srv, r.json["token"])
        eq((st, json.loads(body).get("name")), (200, "brief"), "it signs in")
        cookie = cookie_of(hall)[0]
        st, _, _, _ = req(srv, "GET", "/api/v1/session", with_cookie(cookie))
        eq(st, 200, "its session works while the token stands")
        time.sleep(2.5)
        st, _, body, _ = req(srv, "GET", "/api/v1/session", with_cookie(cookie))
        eq(st, 401, "the token expired: its session is over (idle and max are hours away)")
        check("sign in again" in (json.loads(body) or {}).get("error", ""),
              "says to sign in again: %r" % body[:200])
    finally:
        srv.stop()
    for bad in ("0", "forever", "soon", "-3m"):
        p = t.subprocess.run([t.BIN, "serve", "--session-idle", bad], capture_output=True,
                             text=True, timeout=10)
        check(p.returncode == 2 and "--session-idle" in p.stderr and "12h" in p.stderr,
              "--session-idle %s: refused in the CLI's words: %r" % (bad, p.stderr))


def t_heads():
    """What a browser sends fits: its head with the cookie is below the web limit."""
    srv = Server()
    try:
        st, _, body, hall = sign_in(srv)
        cookie = cookie_of(hall)[0]
        csrf = json.loads(body)["csrf"]
        # Debian chromium's headers (tests/web/measure-head.mjs) plus 300 bytes of other
        # cookies of the same host name (docs/security.md "Request heads")
        hdrs = {
            "Connection": "keep-alive", "sec-ch-ua-platform": '"Linux"',
            "User-Agent": ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                           "Gecko) Chrome/156.0.0.0 Safari/537.36"),
            "sec-ch-ua": '"Not:A-Brand";v="8", "Chromium";v="156"',
            "Content-Type": "application/json", "sec-ch-ua-mobile": "?0", "Accept": "*/*",
            "Origin": "http://127.0.0.1:%d" % srv.port, "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty",
            "Accept-Encoding": "gzip, deflate, br, zstd",
            "Accept-Language": "en-US,en;q=0.9", "X-CSRF-Token": csrf,
            "Cookie": "other_app=%s; updraft_session=%s" % ("z" * 300, cookie),
        }
        st, _, body, _ = req(srv, "POST", "/api/v1/devices/tags", hdrs,
                             json.dumps({"add": ["x"], "filter": ""}).encode())
        check(st not in (401, 403, 414, 431), "a browser write with 300 bytes of other cookies: %d %r"
              % (st, body[:200]))
        st, _, body, _ = req(srv, "GET", "/", hdrs)
        eq(st, 200, "GET / with the same head")
        # a device path keeps its own limit
        pad = {"X-Pad": "a" * 900}
        pad.update({k: v for k, v in hdrs.items() if k != "Cookie"})
        st, _, _, _ = req(srv, "GET", "/fw/5CCF7F000001.version", pad)
        eq(st, 431, "a browser's head plus 900 bytes to a device path: 431 (devices keep 2,560)")
        st, _, _, _ = req(srv, "GET", "/ui/app.css", pad)
        eq(st, 200, "... and to the dashboard: answered")
    finally:
        srv.stop()


def t_sort():
    """GET /api/v1/devices?sort= (the Devices page's sort), with and without a filter."""
    srv = Server()
    try:
        macs = ["5C:CF:7F:00:00:%02X" % i for i in (3, 1, 4, 2)]  # checked in in this order
        for i, m in enumerate(macs):
            srv.raw(t.esp8266_request(srv.port, mac=m, version="1.0.%d" % i))
            time.sleep(0.02)
        r = srv.api("POST", "/api/v1/devices/tags", {"macs": macs[:2], "add": ["lab"]})
        eq(r.status, 200, "tag two")

        def listed(**q):
            r = srv.api("GET", "/api/v1/devices?" + t.urllib.parse.urlencode(q))
            eq(r.status, 200, "list %r" % q)
            return [d["mac"] for d in r.json["devices"]]
        newest = list(reversed(macs))
        eq(listed(), newest, "default: newest seen first")
        eq(listed(sort="-last_seen"), newest, "-last_seen: the same")
        eq(listed(sort="last_seen"), macs, "last_seen: oldest first")
        eq(listed(sort="mac"), sorted(macs), "mac")
        eq(listed(sort="-mac"), sorted(macs, reverse=True), "-mac")
        eq(listed(sort="first_seen"), macs, "first_seen: the first registered first")
        eq(listed(sort="-first_seen"), newest, "-first_seen")
        eq(listed(sort="mac", limit=2, offset=1), sorted(macs)[1:3], "mac, a page")
        eq(listed(sort="-mac", filter="tag=lab"), sorted(macs[:2], reverse=True),
           "-mac with a filter")
        eq(listed(sort="mac", filter="tag=lab", limit=1, offset=1), sorted(macs[:2])[1:],
           "a page of a filtered, sorted listing")
        for bad in ("versions", "MAC", "--mac", "mac "):
            r = srv.api("GET", "/api/v1/devices?sort=" + t.urllib.parse.quote(bad))
            eq((r.status, (r.json or {}).get("kind")), (400, "bad-sort"), "sort=%r" % bad)
        check("first_seen" in r.json["error"], "the error names the sorts: %r" % r.json)
    finally:
        srv.stop()


def t_tls():
    """Over the server's own HTTPS (--tls-cert/--tls-key) the cookie is Secure, and the
    dashboard's https Origin is its own."""
    import shutil
    import ssl
    import socket
    import subprocess
    import tempfile
    if not shutil.which("openssl"):
        print("SKIPPED: no openssl command to make a test certificate (apt-get install openssl)")
        raise SystemExit(t.SKIP)
    tmp = tempfile.TemporaryDirectory(prefix="updraft-webtls-")
    cert, key = os.path.join(tmp.name, "cert.pem"), os.path.join(tmp.name, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=t.TOKEN)
    p = subprocess.Popen([t.BIN, "serve", "--listen", "127.0.0.1:0", "--data",
                          os.path.join(tmp.name, "d"), "--tls-cert", cert, "--tls-key", key],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        port = None
        for _ in range(10):
            m = re.match(r"listening on https://127\.0\.0\.1:(\d+)", p.stdout.readline().decode())
            if m:
                port = int(m.group(1))
                break
        check(port is not None, "the HTTPS server starts")
        if port is None:
            return
        ctx = ssl.create_default_context(cafile=cert)

        def treq(method, path, headers=None, body=b""):
            hd = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
            if body or method in ("POST", "PUT", "DELETE"):
                hd += "Content-Length: %d\r\n" % len(body)
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                server_hostname="127.0.0.1")
            s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n"
                       % (method, path, port, hd)).encode() + body)
            buf = b""
            while True:
                try:
                    d = s.recv(65536)
                except ssl.SSLError:
                    break
                if not d:
                    break
                buf += d
            s.close()
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            hall = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hall.setdefault(k.strip().lower(), []).append(v.strip())
            return int(lines[0].split()[1]), rest, hall
        st, body, hall = treq("POST", "/api/v1/session", {"Content-Type": "application/json"},
                              json.dumps({"token": t.TOKEN}).encode())
        eq(st, 200, "sign in over HTTPS")
        cookie, line = cookie_of(hall)
        check(line and "; Secure" in line, "over HTTPS the cookie is Secure: %r" % line)
        for attr in ("HttpOnly", "SameSite=Strict"):
            check(line and attr in line, "and %s: %r" % (attr, line))
        csrf = json.loads(body[body.index(b"{"):])["csrf"] if b"{" in body else ""
        st, body, _ = treq("POST", "/api/v1/devices/tags",
                           with_cookie(cookie, csrf, "https://127.0.0.1:%d" % port),
                           json.dumps({"add": ["lab"], "filter": ""}).encode())
        check(st not in (401, 403), "a write from the dashboard's https page: %d %r"
              % (st, body[:200]))
        st, body, hall = treq("DELETE", "/api/v1/session", with_cookie(cookie, csrf))
        line = cookie_of(hall)[1]
        check(st == 200 and line and "Max-Age=0" in line and "; Secure" in line,
              "sign-out clears the cookie, Secure too: %d %r" % (st, line))
    finally:
        p.terminate()
        p.wait(10)
        p.stdout.close()
        p.stderr.close()
        tmp.cleanup()


GROUPS = {"assets": t_assets, "sessions": t_sessions, "expiry": t_expiry, "heads": t_heads,
          "sort": t_sort, "tls": t_tls}

if __name__ == "__main__":
    t.run_group(GROUPS)
