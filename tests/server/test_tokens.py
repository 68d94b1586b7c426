#!/usr/bin/env python3
"""Who may do what (issue 12): named API tokens with roles, the route table walked with every
role, audit events, and failed authentication limited per address. The real `updraft
serve` on 127.0.0.1 and the real `updraft` CLI.

usage: test_tokens.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: roles tokens cli audit ratelimit"""
import json
import os
import re
import subprocess
import tempfile
import time

import pgcluster
import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request

ROLES = ("viewer", "ci", "operator", "admin")
DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "api.md")


def make_token(srv, name, role, **kw):
    body = {"name": name, "role": role}
    body.update(kw)
    r = srv.api("POST", "/api/v1/tokens", body)
    eq(r.status, 201, "create token %s (%s): %r" % (name, role, r.body[:300]))
    return r.json["token"]


def cli(args, srv, token, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPDRAFT_")}
    env.update(UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=token or "",
               XDG_CONFIG_HOME="/nonexistent", HOME="/nonexistent")
    p = subprocess.run([t.BIN] + list(args), capture_output=True, text=True, env=env,
                       input=stdin, timeout=30)
    return p.returncode, p.stdout, p.stderr


def docs_table():
    """The role table of docs/api.md "Tokens and roles": {(method, path): [roles]}."""
    rows = {}
    for line in open(DOCS):
        m = re.match(r"^\| `(GET|POST|PUT|DELETE|PATCH)` \| `/api/v1(/\S*)` \| ([a-z, ]+) \|$",
                     line.strip())
        if m:
            rows[(m.group(1), m.group(2))] = [r.strip() for r in m.group(3).split(",")]
    return rows


def docs_headings():
    """Every route the headings of docs/api.md name ("### `POST /api/v1/releases/<id>/retire`"),
    as (method, path with {param})."""
    out = set()
    for line in open(DOCS):
        if not line.startswith("#"):
            continue
        for m in re.finditer(r"`(GET|POST|PUT|DELETE|PATCH) /api/v1(/?[^` ]*)`", line):
            path = re.sub(r"<(\w+)>", r"{\1}", m.group(2)) or "/"
            out.add((m.group(1), path))
    return out


# ---- groups ---------------------------------------------------------------------------------

def t_roles():
    """The route table: the server's, the docs' and every route called with every role."""
    srv = Server()
    try:
        r = srv.api("GET", "/api/v1/roles")
        eq(r.status, 200, "GET /api/v1/roles")
        eq(r.json["roles"], list(ROLES), "the four roles, least powerful first")
        table = {(x["method"], x["path"]): x["roles"] for x in r.json["routes"]}
        for x in r.json["routes"]:
            check(x["roles"], "%s %s has a role" % (x["method"], x["path"]))
            check(x["what"], "%s %s says what it does" % (x["method"], x["path"]))
        docs = docs_table()
        check(len(docs) >= 20, "docs/api.md has the role table (%d rows)" % len(docs))
        eq(sorted(docs.items()), sorted(table.items()),
           "docs/api.md's role table is the server's (src/server/authz.c)")
        for route in sorted(docs_headings()):
            check(route in table, "the documented route %s %s has a role in the table" % route)
        # every route with every role: a real release, device and channel to act on
        img = arduino_bin(seed=901)
        eq(srv.upload(img, "1.0", "stable").status, 201, "a release to walk with")
        srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E0:42"))
        tokens = {role: make_token(srv, "walk-" + role, role) for role in ROLES}
        # the values put in the paths: a release that does not exist (the calls must not
        # change what the next ones see), a known device, channel and token names
        values = {"{id}": "999", "{mac}": "DE:BA:7A:B1:E0:42", "{name}": "walk-nosuch"}
        for (method, path), roles in sorted(table.items()):
            url = "/api/v1" + path
            for k, v in values.items():
                url = url.replace(k, v)
            for role in ROLES:
                body = b"{}" if method != "GET" else None
                r = srv.api(method, url, body, token=tokens[role],
                            ctype="application/json" if body else None)
                what = "%s %s as %s" % (method, url, role)
                err = (r.json or {}).get("error", "") if isinstance(r.json, dict) else ""
                if role in roles:
                    check(r.status not in (401, 403, 405, 429), "%s: allowed, got %d %s" % (
                        what, r.status, err))
                    check(not err.startswith("no such API path"), "%s: the router knows it" % what)
                else:
                    eq(r.status, 403, what + ": refused")
                    if r.status == 403:
                        eq(r.json["kind"], "forbidden", what + ": kind")
                        eq(r.json["needs"], roles, what + ": says which roles may")
                        eq(r.json["role"], role, what + ": says the token's role")
                        check("needs a token with role" in r.json["error"] and path in
                              r.json["error"], what + ": the error names the route and the roles")
                # HEAD is answered as GET, refusals included
                if method == "GET":
                    h = srv.raw(("HEAD %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                                 "Connection: close\r\n\r\n" % (url, tokens[role])).encode())
                    eq(h.status, r.status, "HEAD %s as %s: the status of GET" % (url, role))
        # a path or method the table does not know: refused for every role (default deny)
        for role in ROLES:
            r = srv.api("GET", "/api/v1/nothing-here", token=tokens[role])
            eq(r.status, 404, "an unknown path as %s: 404" % role)
            r = srv.api("PATCH", "/api/v1/releases/1", b"{}", token=tokens[role],
                        ctype="application/json")
            eq(r.status, 405, "an unknown method as %s: 405" % role)
            check("use GET, DELETE" in r.json["error"], "405 says the methods: %r" % r.json)
        # the bootstrap token is an admin
        r = srv.api("GET", "/api/v1/")
        eq(r.json["token"], {"name": "admin-token", "role": "admin"}, "the bootstrap token")
    finally:
        srv.stop()


def t_tokens():
    """Tokens over the API: made, hashed, listed without secrets, used, expired, revoked."""
    srv = Server()
    try:
        secret = make_token(srv, "dash", "viewer")
        check(re.fullmatch(r"upd_[0-9a-f]{12}_[0-9a-f]{48}", secret), "secret form: %r" % secret)
        r = srv.api("GET", "/api/v1/releases", token=secret)
        eq(r.status, 200, "the new viewer token reads")
        r = srv.api("GET", "/api/v1/", token=secret)
        eq(r.json["token"], {"name": "dash", "role": "viewer"}, "the server says whose token")
        # one character off, same key id: refused
        wrong = secret[:-1] + ("0" if secret[-1] != "0" else "1")
        eq(srv.api("GET", "/api/v1/releases", token=wrong).status, 401, "a changed secret: 401")
        # stored hashed: the database holds its SHA-256, never the secret
        if srv.db:  # PostgreSQL (pgcluster.py): everything the database holds
            db = pgcluster.dump(srv.db)
        else:
            db = open(os.path.join(srv.data, "updraft.db"), "rb").read()
            wal = os.path.join(srv.data, "updraft.db-wal")
            if os.path.exists(wal):
                db += open(wal, "rb").read()
        check(secret.encode() not in db and secret[17:].encode() not in db,
              "the secret is not in the database")
        import hashlib
        check(hashlib.sha256(secret.encode()).hexdigest().encode() in db,
              "its SHA-256 is (what the server compares)")
        # the list: no secrets; last use recorded (batched: the list writes what it has)
        time.sleep(0.05)
        r = srv.api("GET", "/api/v1/tokens")
        eq(r.status, 200, "GET /api/v1/tokens")
        check(secret not in r.body.decode() and "hash" not in r.json["tokens"][0],
              "the list shows no secret and no hash")
        by = {x["name"]: x for x in r.json["tokens"]}
        eq(sorted(by), ["admin-token", "dash"], "the bootstrap token and dash")
        check(by["admin-token"]["bootstrap"] and by["admin-token"]["role"] == "admin",
              "the bootstrap token is listed as such")
        check(by["dash"]["last_used"] is not None, "dash's last use is recorded")
        eq(by["dash"]["last_used_from"], "127.0.0.1", "and where from")
        eq(by["dash"]["created_by"], "admin-token", "who made it")
        eq((by["dash"]["expires"], by["dash"]["expired"]), (None, False), "it does not expire")
        check(by["admin-token"]["last_used"] is not None, "the bootstrap token's use too")
        # bad requests
        for body, words in (({"name": "x y", "role": "viewer"}, "name"),
                            ({"name": "n1", "role": "root"}, "role"),
                            ({"name": "n1", "role": "viewer", "channels": ["a"]}, "ci"),
                            ({"name": "n1", "role": "ci", "channels": ["a b"]}, "channel name"),
                            ({"name": "n1", "role": "ci", "expires_in": 0}, "expires_in"),
                            ({"name": "n1", "role": "ci", "expires_in": "90d"}, "expires_in")):
            r = srv.api("POST", "/api/v1/tokens", body)
            check(r.status == 400 and words in r.json["error"],
                  "%r refused naming %s: %d %r" % (body, words, r.status, r.body[:200]))
        r = srv.api("POST", "/api/v1/tokens", {"name": "dash", "role": "admin"})
        eq((r.status, r.json["kind"]), (409, "exists"), "a name is taken once")
        r = srv.api("POST", "/api/v1/tokens", {"name": "admin-token", "role": "admin"})
        eq(r.status, 409, "admin-token is the bootstrap token's name")
        # expiry
        short = make_token(srv, "short", "operator", expires_in=1)
        eq(srv.api("GET", "/api/v1/releases", token=short).status, 200, "valid before it expires")
        time.sleep(1.2)
        r = srv.api("GET", "/api/v1/releases", token=short)
        check(r.status == 401 and r.json["kind"] == "expired" and r.json["token"] == "short" and
              "expired at" in r.json["reason"], "an expired token: 401 saying so: %r" % r.body)
        rc, out, err = cli(["release", "list"], srv, short)
        check(rc == 1 and "the token 'short' expired at" in err and "updraft token create" in err
              and "/api/v1" not in err, "the CLI says it expired, in its words: %r" % err)
        by = {x["name"]: x for x in srv.api("GET", "/api/v1/tokens").json["tokens"]}
        check(by["short"]["expired"] and by["short"]["expires"], "the list says it expired")
        # ci tokens limited to channels
        ci = make_token(srv, "ci-beta", "ci", channels=["beta", "rc"])
        img = arduino_bin(seed=911)
        r = srv.api("POST", "/api/v1/releases?version=1.0&channel=stable", img, token=ci)
        eq((r.status, r.json.get("kind")), (403, "forbidden-channel"), "ci to another channel")
        eq(r.json["channels"], ["beta", "rc"], "the refusal lists its channels")
        r = srv.api("POST", "/api/v1/releases?version=1.0", img, token=ci)
        eq(r.status, 403, "ci without a channel")
        r = srv.api("POST", "/api/v1/releases?version=1.0&channel=beta", img, token=ci)
        eq(r.status, 201, "ci to its channel")
        eq(srv.api("GET", "/api/v1/releases").json["releases"][0]["channel"], "beta",
           "the release is on beta")
        img2 = arduino_bin(seed=912)
        r = srv.api("POST", "/api/v1/releases?version=1.0&channel=beta&same_version=replace",
                    img2, token=ci)
        eq(r.status, 403, "a limited ci token may not replace (other channels would change)")
        eq(srv.api("GET", "/api/v1/releases", token=ci).status, 403, "ci reads nothing")
        free_ci = make_token(srv, "ci-any", "ci")
        r = srv.api("POST", "/api/v1/releases?version=2.0", img2, token=free_ci)
        eq(r.status, 201, "a ci token without channels adds anywhere")
        # revoke
        r = srv.api("DELETE", "/api/v1/tokens/dash")
        eq((r.status, r.json), (200, {"name": "dash", "revoked": True}), "revoke")
        eq(srv.api("GET", "/api/v1/releases", token=secret).status, 401, "revoked: 401")
        eq(srv.api("DELETE", "/api/v1/tokens/dash").status, 404, "revoked twice: 404")
        r = srv.api("DELETE", "/api/v1/tokens/admin-token")
        eq((r.status, r.json["kind"]), (409, "bootstrap"), "the bootstrap token stays")
        eq(srv.api("GET", "/api/v1/releases").status, 200, "and keeps working")
        # last use survives a restart (written at shutdown at the latest)
        admin = make_token(srv, "boss", "admin")
        eq(srv.api("GET", "/api/v1/devices", token=admin).status, 200, "boss used")
        srv.stop()
        old = srv  # keeps its temporary directory (the data) alive
        srv = Server(data=old.data)
        by = {x["name"]: x for x in srv.api("GET", "/api/v1/tokens").json["tokens"]}
        check(by["boss"]["last_used"] is not None, "last use written by the shutdown")
        eq(srv.api("GET", "/api/v1/devices", token=admin).status, 200, "tokens outlive restarts")
        eq(srv.api("POST", "/api/v1/tokens", {"name": "made-by-boss", "role": "viewer"},
                   token=admin).json["created_by"], "boss", "an admin token makes tokens")
    finally:
        srv.stop()


def t_cli():
    """updraft token create|list|revoke, refusals in CLI words, login with a ci token."""
    srv = Server()
    try:
        rc, out, err = cli(["token", "create", "ci-bot", "--role", "ci", "--expires", "90d",
                            "--channels", "beta,stable"], srv, t.TOKEN)
        eq(rc, 0, "token create: %s" % err)
        secret = out.strip()
        check(re.fullmatch(r"upd_[0-9a-f]{12}_[0-9a-f]{48}", secret),
              "stdout is the secret alone: %r" % out)
        check("shown only now" in err and "ci-bot" in err and "expires" in err,
              "stderr says what was made: %r" % err)
        rc, out, err = cli(["token", "create", "viewer1", "--role", "viewer"], srv, t.TOKEN)
        viewer = out.strip()
        rc, out, err = cli(["token", "list"], srv, t.TOKEN)
        eq(rc, 0, "token list")
        check(secret not in out and viewer not in out, "token list shows no secret")
        lines = {ln.split()[0]: ln for ln in out.splitlines()[1:] if ln.strip()}
        check("ci" in lines["ci-bot"] and "beta,stable" in lines["ci-bot"] and
              "admin-token" in lines["ci-bot"], "ci-bot's row: %r" % lines.get("ci-bot"))
        check("(bootstrap)" in lines["admin-token"], "the bootstrap row: %r" % lines)
        check(out.splitlines()[0].split()[:3] == ["NAME", "ROLE", "CHANNELS"], "a table")
        # refusals in CLI words: the role a command needs
        rc, out, err = cli(["channel", "set", "stable", "1"], srv, viewer)
        check(rc == 1 and "needs a token with role operator or admin" in err and
              "'viewer1' with role viewer" in err and "updraft token create" in err,
              "a viewer setting a channel: %r" % err)
        for w in ("/api/v1", "{\"", "PUT "):
            check(w not in err, "no API words in the CLI's refusal: %r" % err)
        rc, out, err = cli(["token", "list"], srv, viewer)
        check(rc == 1 and "role admin" in err, "a viewer listing tokens: %r" % err)
        # ci: release add to its channels only
        f = os.path.join(srv.tmp.name, "app.bin")
        open(f, "wb").write(arduino_bin(seed=921))
        rc, out, err = cli(["release", "add", f, "--version", "1.0", "--channel", "prod"], srv,
                           secret)
        check(rc == 1 and "only to the channel(s) beta, stable" in err and "--channel" in err,
              "ci to another channel, in CLI words: %r" % err)
        rc, out, err = cli(["release", "add", f, "--version", "1.0", "--channel", "beta"], srv,
                           secret)
        eq((rc, err), (0, ""), "ci adds to beta")
        rc, out, err = cli(["release", "list"], srv, secret)
        check(rc == 1 and "needs a token with role viewer, operator or admin" in err,
              "ci may not list: %r" % err)
        # login accepts a ci token (it checks the token on the status route) and says whose
        cfg = os.path.join(srv.tmp.name, "cfg")
        env = {k: v for k, v in os.environ.items() if not k.startswith("UPDRAFT_")}
        env.update(XDG_CONFIG_HOME=cfg, HOME=cfg)
        p = subprocess.run([t.BIN, "login", "http://127.0.0.1:%d" % srv.port, "--token", secret],
                           capture_output=True, text=True, env=env, timeout=30)
        check(p.returncode == 0 and "as token 'ci-bot' (role ci)" in p.stdout,
              "login with a ci token: %r %r" % (p.stdout, p.stderr))
        # bad input, said with the flags
        for args, words in ((["token", "create", "x", "--role", "root"], "--role admin"),
                            (["token", "create", "x", "--role", "oprator"], "operator"),
                            (["token", "create", "x"], "--role is required"),
                            (["token", "create", "x", "--role", "ci", "--expires", "90"],
                             "--expires '90' is not a lifetime"),
                            (["token", "create", "x", "--role", "viewer", "--channels", "a"],
                             "use it with --role ci"),
                            (["token", "create", "a b", "--role", "ci"], "not a token name"),
                            (["token", "create", "ci-bot", "--role", "ci"], "'ci-bot' exists"),
                            (["token", "revoke", "nosuch"], "there is no token 'nosuch'"),
                            (["token", "revoke", "admin-token"], "bootstrap token")):
            rc, out, err = cli(args, srv, t.TOKEN)
            check(rc in (1, 2) and words in err, "%s: %r" % (" ".join(args), err))
        rc, out, err = cli(["token", "revoke", "ci-bot"], srv, t.TOKEN)
        check(rc == 0 and "revoked" in out, "token revoke: %r" % out)
        rc, out, err = cli(["release", "add", f, "--version", "1.1", "--channel", "beta"], srv,
                           secret)
        check(rc == 1 and "refused" in err and "updraft token list" in err,
              "a revoked token is refused: %r" % err)
        for sub in ("create", "list", "revoke"):
            rc, out, err = cli(["token", sub, "--help"], srv, None)
            check(rc == 0 and out.startswith("usage: updraft token " + sub), "token %s --help" % sub)
        rc, out, err = cli(["--help"], srv, None)
        check("token" in out, "updraft --help lists token")
    finally:
        srv.stop()


def t_audit():
    """Every admin write is an audit event: the token's name, the address, what changed."""
    srv = Server()
    try:
        op = make_token(srv, "ops1", "operator")
        viewer = make_token(srv, "look", "viewer")
        img = arduino_bin(seed=931)
        rel = srv.api("POST", "/api/v1/releases?version=1.0&channel=stable", img, token=op).json
        eq(srv.api("PUT", "/api/v1/channels/beta", {"release": rel["id"]}, token=op).status, 200,
           "operator sets beta")
        eq(srv.api("POST", "/api/v1/devices/DE:BA:7A:B1:E0:42/pin", {"release": rel["id"],
                                                                    "force": True},
                   token=op).status, 200, "operator pins")
        eq(srv.api("GET", "/api/v1/devices", token=op).status, 200, "a read")
        eq(srv.api("DELETE", "/api/v1/releases/%d" % rel["id"], token=viewer).status, 403,
           "a viewer's delete is refused")
        eq(srv.api("PUT", "/api/v1/channels/beta", {"release": 999}, token=op).status, 404,
           "a failed write")
        ev = t.events(srv, kind="audit")
        got = [(e["actor"], e["source"], e["detail"]) for e in reversed(ev)]
        want = [
            ("admin-token", "POST /api/v1/tokens", "token 'ops1', role operator"),
            ("admin-token", "POST /api/v1/tokens", "token 'look', role viewer"),
            ("ops1", "add a release (POST /api/v1/releases)", "version 1.0, esp8266, channel stable"),
            ("ops1", "set what a channel serves (PUT /api/v1/channels/beta", '"release": %d' %
             rel["id"]),
            ("ops1", "pin a device to a release (POST /api/v1/devices/DE:BA:7A:B1:E0:42/pin",
             '"force": true'),
            ("look", "refused: delete a release needs role operator or admin", "DELETE"),
        ]
        eq(len(got), len(want), "one audit event per write and refusal, none for reads and "
           "failed writes: %r" % got)
        for g, w in zip(got, want):
            check(g[0] == w[0] and g[1] == "127.0.0.1" and w[1] in g[2] and w[2] in g[2],
                  "audit %r: got %r" % (w, g))
        added = [e for e in ev if "add a release" in e["detail"]][0]
        eq(added["release"], rel["id"], "the upload's audit event names the release")
        check(all(make_secret not in json.dumps(ev) for make_secret in (op, viewer)),
              "no secret in the audit trail")
        # the CLI shows them with who and where
        rc, out, err = cli(["events", "--kind", "audit"], srv, t.TOKEN)
        eq(rc, 0, "updraft events --kind audit: %s" % err)
        check("ops1 from 127.0.0.1: set what a channel serves" in out,
              "events --kind audit says who from where: %r" % out)
        check("look from 127.0.0.1: refused" in out, "and the refusal")
        rc, out, err = cli(["events", "--kind", "audt"], srv, t.TOKEN)
        check("did you mean 'audit'" in err, "audit is a known kind: %r" % err)
    finally:
        srv.stop()


def t_ratelimit():
    """Failed authentication, admin and device, per address with a growing delay: 429 and
    Retry-After at once (no thread waits), one log line per source per interval, counted."""
    tmpdir = tempfile.TemporaryDirectory()
    tmp = os.path.join(tmpdir.name, "creds")
    with open(tmp, "w") as f:
        f.write("5C:CF:7F:00:00:01 dev1:s3cret\n")
    srv = Server(["--device-auth", "fleet:fleetpass", "--device-auth-file", tmp])
    try:
        for i in range(5):
            r = srv.api("GET", "/api/v1/releases", token="wrong-%d" % i)
            eq(r.status, 401, "failure %d: 401" % (i + 1))
        t0 = time.time()
        r = srv.api("GET", "/api/v1/releases", token="wrong-6")
        eq(r.status, 429, "the 6th failure: 429")
        eq(r.headers.get("retry-after"), "1", "Retry-After: 1 s first")
        eq(r.json["kind"], "too-many-failures", "kind")
        check(time.time() - t0 < 0.5, "answered at once (nobody sleeps on a thread)")
        r = srv.api("GET", "/api/v1/releases")
        eq(r.status, 429, "while blocked even the right token is not looked at")
        time.sleep(1.1)
        r = srv.api("GET", "/api/v1/releases", token="wrong-7")
        eq((r.status, r.headers.get("retry-after")), (429, "2"), "the next failure: 2 s")
        time.sleep(2.1)
        r = srv.api("GET", "/api/v1/releases", token="wrong-8")
        eq((r.status, r.headers.get("retry-after")), (429, "4"), "then 4 s: the delay grows")
        time.sleep(4.1)
        eq(srv.api("GET", "/api/v1/releases").status, 200, "after the wait the right token works")
        for i in range(5):
            eq(srv.api("GET", "/api/v1/releases", token="x").status, 401,
               "a success forgot the failures (%d)" % i)
        eq(srv.api("GET", "/api/v1/releases").status, 200, "a success resets")
        # no credentials at all is a challenge, not a guess: never counted, never throttled,
        # so a right client behind the same address (one NAT) is not held up by it
        for i in range(8):
            eq(srv.api("GET", "/api/v1/releases", token=None).status, 401,
               "no token %d: 401, not 429" % (i + 1))
            eq(srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:0A")).status, 401,
               "device without credentials %d: 401, not 429" % (i + 1))
        eq(srv.api("GET", "/api/v1/releases").status, 200,
           "after 8 requests without a token the right token works")
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:01", auth="dev1:s3cret"))
        check(r.status not in (401, 429),
              "after 8 devices without credentials a right device is served: %d" % r.status)
        # devices: the same per address, with text answers
        for i in range(5):
            r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:09", auth="fleet:bad%d" % i))
            eq(r.status, 401, "device failure %d: 401" % (i + 1))
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:09", auth="fleet:bad"))
        eq((r.status, r.headers.get("retry-after")), (429, "1"), "device: 429 after 5 failures")
        check(b"too many failed authentications" in r.body, "the text says why: %r" % r.body)
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:0A", auth="fleet:fleetpass"))
        eq(r.status, 429, "while blocked the fleet's credentials are not looked at from there")
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:01", auth="dev1:s3cret"))
        check(r.status not in (401, 429), "a device with credentials of its own is not made to "
              "wait for the fleet's (devices behind one NAT): %d" % r.status)
        eq(srv.api("GET", "/api/v1/releases").status, 200, "admin and device counts are apart")
        time.sleep(1.1)
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:0A", auth="fleet:fleetpass"))
        check(r.status not in (401, 429), "after the wait a right device is served: %d" % r.status)
        # a listed device failing with its own credentials blocks only itself
        for i in range(6):
            r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:01", auth="dev1:bad"))
        eq(r.status, 429, "dev1 failing 6 times: 429")
        r = srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:00:0A", auth="fleet:fleetpass"))
        check(r.status not in (401, 429), "its neighbours are served: %d" % r.status)
        # counted where the server's other counters are
        j = srv.api("GET", "/api/v1/").json
        eq(j["auth_failures"], {"admin": 13, "device": 12}, "failures counted")
        eq(j["auth_throttled"], {"admin": 1, "device": 1}, "429s that were not failures counted")
        r = srv.raw(("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Connection: close\r\n\r\n" % t.TOKEN).encode())
        text = r.body.decode()
        for line in ('updraft_auth_failures_total{who="admin"} 13',
                     'updraft_auth_failures_total{who="device"} 12',
                     'updraft_auth_throttled_total{who="admin"} 1',
                     'updraft_auth_throttled_total{who="device"} 1'):
            check(line in text, "/metrics has %s: %r" % (line, text[:200]))
        viewer = make_token(srv, "graphs", "viewer")
        ci = make_token(srv, "ci-only", "ci")
        for tok, want in ((viewer, 200), (ci, 401), ("wrong", 401)):
            r = srv.raw(("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                         "Connection: close\r\n\r\n" % tok).encode())
            eq(r.status, want, "/metrics with a %s token" % ("viewer" if tok == viewer else
                                                           "ci" if tok == ci else "wrong"))
    finally:
        srv.stop()
    # logged once per source per interval (60 s), not once per failure
    lines = [ln for ln in srv.stderr.splitlines() if " warn auth-failures: " in ln]
    eq(len([ln for ln in lines if "admin API from 127.0.0.1" in ln]), 1,
       "one admin log line for the address: %r" % lines)
    eq(len([ln for ln in lines if "device from 127.0.0.1 (fleet)" in ln]), 1,
       "one device log line for the address and the fleet's credentials: %r" % lines)
    eq(len([ln for ln in lines if "device from 127.0.0.1 (5C:CF:7F:00:00:01)" in ln]), 1,
       "one for dev1's own: %r" % lines)


GROUPS = {"roles": t_roles, "tokens": t_tokens, "cli": t_cli, "audit": t_audit,
          "ratelimit": t_ratelimit}

if __name__ == "__main__":
    t.run_group(GROUPS)
