#!/usr/bin/env python3
"""The API the dashboard's Releases and Rollouts pages use (docs/api.md): the upload
preview POST /api/v1/inspect (the inspector's verdict and what publishing would answer,
nothing stored), release notes, release adoption, and the failure reasons per rollout
wave. The real `updraft serve` on 127.0.0.1 and the real `updraft` CLI.

usage: test_webpages.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: preview corpus notes adoption reasons"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

import test_server as t
from test_server import Server, arduino_bin, check, eq, esp32_app, esp8266_request, events

TMP = tempfile.TemporaryDirectory(prefix="updraft-webpages-")
HTML = (b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
        b"<body><h1>Not Found</h1></body></html>\n")


def run(args, srv=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPDRAFT_")}
    if srv:
        env.update(UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
    p = subprocess.run([t.BIN] + list(args), capture_output=True, text=True, env=env,
                       input=stdin, timeout=60)
    return p.returncode, p.stdout, p.stderr


def preview(srv, data, token=t.TOKEN, **q):
    return srv.api("POST", "/api/v1/inspect" + ("?" + urllib.parse.urlencode(q) if q else ""),
                   data, token=token)


def cli_inspect(data, name, *opts):
    """What `updraft inspect --json` says about the same bytes."""
    f = os.path.join(TMP.name, name)
    open(f, "wb").write(data)
    _, out, _ = run(["inspect", "--json", "--allow-fs"] + list(opts) + [f])
    return json.loads(out)[0]


def nothing_stored(srv, what):
    eq(srv.api("GET", "/api/v1/releases").json["releases"], [], what + ": no release made")
    eq(os.listdir(os.path.join(srv.data, "tmp")), [], what + ": no temp file left")


def same_as_cli(insp, data, name, what, *opts):
    want = cli_inspect(data, name, *opts)
    for k in set(want) | set(insp):
        if k == "file":
            continue
        eq(insp.get(k), want.get(k), "%s: field %s as `updraft inspect --json` says it" % (what, k))


def t_preview():
    srv = Server()
    try:
        app = arduino_bin(seed=801)
        r = preview(srv, app, version="1.0.0", channel="stable", filename="sketch.ino.bin")
        eq(r.status, 200, "preview of an app answers 200")
        j = r.json or {}
        insp, pub = j.get("inspection", {}), j.get("publish", {})
        eq(j.get("file"), "sketch.ino.bin", "the file's name")
        eq(insp.get("verdict"), "ota-app", "the verdict")
        eq(insp.get("acceptable"), True, "acceptable")
        check(insp.get("gzip_copy", {}).get("size", 0) > 0, "the gzip copy's size (the saving)")
        same_as_cli(insp, app, "sketch.ino.bin", "app preview")
        eq(pub.get("ok"), True, "publishing would work")
        rel = pub.get("release", {})
        eq((rel.get("version"), rel.get("platform"), rel.get("chip"), rel.get("channel")),
           ("1.0.0", "esp8266", "ESP8266", "stable"), "the release it would be")
        check("id" not in rel and "url" not in rel, "no id or URL: nothing is stored")
        nothing_stored(srv, "app preview")

        # ?board= gives the layouts, as inspect --board does; a wrong one is said
        r = preview(srv, app, version="1.0.0", board="1M")
        same_as_cli(r.json["inspection"], app, "sketch.ino.bin", "--board 1M", "--board", "1M")
        check(len(r.json["inspection"].get("layouts", [])) > 0, "board=1M: the layouts")
        r = preview(srv, app, version="1.0.0", board="3X")
        eq((r.status, (r.json or {}).get("kind")), (400, "bad-request"), "board=3X refused")
        check("512K, 1M" in r.json.get("error", ""), "board=3X: the sizes there are")
        r = preview(srv, app, version="1.0.0", fs="1M")
        eq((r.status, (r.json or {}).get("kind")), (400, "bad-request"),
           "fs= without board=: refused, not ignored")
        check("needs board=" in (r.json or {}).get("error", ""), "says so: %r" % r.json)

        # an HTML page: the inspector's refusal, as release add would answer it
        r = preview(srv, HTML)
        pub = r.json.get("publish", {})
        eq((r.status, r.json["inspection"]["verdict"], r.json["inspection"]["kind"]),
           (200, "rejected", "html"), "HTML page: rejected")
        up = srv.upload(HTML, "1.0.1")
        eq((pub.get("ok"), pub.get("status")), (False, up.status), "HTML: publish would fail")
        for k in ("error", "kind", "reason", "code", "verdict"):
            eq(pub.get(k), up.json.get(k), "HTML: publish.%s is what the upload answers" % k)
        check("HTML page" in pub.get("reason", "") and "Raw" in pub.get("reason", ""),
              "HTML: the reason says what to upload instead: %r" % pub.get("reason"))
        nothing_stored(srv, "HTML preview")

        # no version for an ESP8266 app; ESP32 apps take the app description's
        r = preview(srv, app)
        eq((r.json["publish"]["status"], r.json["publish"]["kind"]), (400, "no-version"),
           "no version: said")
        r = preview(srv, esp32_app(seed=5, version="4.5.6"))
        eq(r.json["publish"].get("release", {}).get("version"), "4.5.6",
           "ESP32: the app description's version")

        # conflicts with what the server holds: same bytes, same version
        up = srv.upload(app, "1.0.0")
        eq(up.status, 201, "the app uploaded for real")
        r = preview(srv, app, version="1.0.0")
        pub = r.json["publish"]
        eq((pub["status"], pub["kind"], pub.get("release")), (409, "duplicate", up.json["id"]),
           "the same file: duplicate of the release")
        r = preview(srv, arduino_bin(seed=802), version="1.0.0")
        pub = r.json["publish"]
        eq((pub["status"], pub["kind"], pub.get("release")),
           (409, "version-exists", up.json["id"]), "other bytes, same version")
        r = preview(srv, arduino_bin(seed=802), version="1.0.0", same_version="replace")
        eq(r.json["publish"]["ok"], True, "same_version=replace: would work")
        eq(len(srv.api("GET", "/api/v1/releases").json["releases"]), 1,
           "previews added no release")

        # who may: the roles that may upload; a preview is no audit event
        r = srv.api("POST", "/api/v1/tokens", {"name": "look", "role": "viewer"})
        viewer = r.json["token"]
        r = preview(srv, app, token=viewer, version="9")
        eq((r.status, r.json.get("kind")), (403, "forbidden"), "a viewer may not preview")
        r = srv.api("POST", "/api/v1/tokens", {"name": "ci", "role": "ci"})
        eq(preview(srv, app, token=r.json["token"], version="9").status, 200, "ci may")
        audits = [e["detail"] for e in srv.api("GET", "/api/v1/events?kind=audit").json["events"]]
        check(not any("/api/v1/inspect" in d and "refused" not in d for d in audits),
              "previews are not audit events: %r" % audits)
        r = srv.api("GET", "/api/v1/inspect")
        eq(r.status, 405, "GET /api/v1/inspect: method not allowed")
        r = preview(srv, b"")
        eq((r.status, r.json.get("kind")), (400, "empty"), "an empty body")
    finally:
        srv.stop()


def t_corpus():
    fw = t.FWDIR
    if not os.path.isdir(fw):
        print("SKIPPED: the real firmware corpus is not at %s" % fw)
        sys.exit(t.SKIP)
    srv = Server()
    try:
        for name, verdict, kind, ok in [
                ("esp8266-app_wbec_pio-espressif8266-4.0.1_core3.0.2_4M.bin", "ota-app",
                 "esp8266-app", True),
                ("esp8266-app-gz_tasmota-14.3.0.4-de_core2.7.8_1M.bin.gz", "ota-app",
                 "gzip", True),
                ("esp32s2-app_esp-idf-v5.0-blink_esptool-testimage.bin", "ota-app",
                 "esp32-app", True),
                ("esp32c3-merged-factory_tasmota32c3-14.3.0.4-de_starts-with-E9.factory.bin",
                 "rejected", "merged-factory", False),
                ("esp8266-bootloader_nonos-sdk_boot_v1.7.bin", "rejected", "esp8266-bootloader", False)]:
            data = open(os.path.join(fw, name), "rb").read()
            r = srv.api("POST", "/api/v1/inspect?" + urllib.parse.urlencode(
                {"version": "1.0", "filename": name}), data)
            insp = r.json["inspection"]
            eq((r.status, insp["verdict"], insp["kind"], r.json["publish"]["ok"]),
               (200, verdict, kind, ok), name)
            same_as_cli(insp, data, name, name)
        nothing_stored(srv, "corpus previews")
    finally:
        srv.stop()


MD = ("# 1.1.0\n\n- fixes the *Wi-Fi* reconnect loop\n- [changelog](https://example.com/c)\n"
      "\u00e9t\u00e9 \U0001F680\n")


def t_notes():
    srv = Server()
    try:
        # at upload (a form field) and later (PUT), with the same rule
        boundary = "b0undary"
        app = arduino_bin(seed=811)
        form = ("--%s\r\nContent-Disposition: form-data; name=\"notes\"\r\n\r\n%s\r\n--%s\r\n"
                "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (boundary, MD, boundary)
                ).encode() + app + ("\r\n--%s--\r\n" % boundary).encode()
        r = srv.api("POST", "/api/v1/releases?version=1.1.0", form,
                    ctype="multipart/form-data; boundary=" + boundary)
        eq(r.status, 201, "upload with notes: %r" % (r.json,))
        rid = r.json["id"]
        eq(r.json["notes"], MD, "the notes as sent (UTF-8 kept)")
        new = "## 1.1.0\n\nOnly `this` now.\n"
        r = srv.api("PUT", "/api/v1/releases/%d/notes" % rid, {"notes": new})
        eq((r.status, r.json.get("notes")), (200, new), "PUT notes answers the release")
        eq(srv.api("GET", "/api/v1/releases/%d" % rid).json["notes"], new, "GET shows them")
        eq(srv.api("GET", "/api/v1/releases").json["releases"][0]["notes"], new,
           "the list shows them (no stale cache)")
        ev = [e for e in events(srv, kind="release-notes")]
        check(len(ev) == 1 and ev[0]["release"] == rid and ev[0]["detail"] == "release %d (version 1.1.0): notes set (%d bytes)" % (rid, len(new)),
              "a release-notes event: %r" % ev)
        audits = [e["detail"] for e in events(srv, kind="audit")]
        check(any("set a release's notes" in d for d in audits), "an audit event: %r" % audits)
        # tabs and line breaks of any kind are text; the longest notes kept are 4,095 bytes
        for ok in ("code:\n\tindented\r\nnext line\rend\n", "z" * 4095):
            r = srv.api("PUT", "/api/v1/releases/%d/notes" % rid, {"notes": ok})
            eq((r.status, (r.json or {}).get("notes")), (200, ok), "taken: %r" % ok[:20])
        # what is refused, in the API's words
        for body, kind, words in [
                ({"notes": "x" * 4096}, "bad-notes", "4096 bytes; at most 4095"),
                ({"notes": "line 1\nbell \u0007"}, "bad-notes", "0x07 at byte 12 (line 2)"),
                ({"notes": "rub\u007fout"}, "bad-notes", "0x7F at byte 3 (line 1)"),
                ({"notes": "esc \u001b[31m red"}, "bad-notes", "0x1B at byte 4"),
                ({"notes": 3}, "bad-json", "{\"notes\": \"text\"}"),
                ({"text": "x"}, "bad-json", "{\"notes\": \"text\"}")]:
            r = srv.api("PUT", "/api/v1/releases/%d/notes" % rid, body)
            eq((r.status, (r.json or {}).get("kind")), (400, kind), "refused: %r" % body)
            check(words in (r.json or {}).get("error", ""), "says %r: %r" % (words, r.json))
        r = srv.api("PUT", "/api/v1/releases/%d/notes" % rid,
                    b'{"notes": "caf\xe9"}', ctype="application/json")
        eq((r.status, (r.json or {}).get("kind")), (400, "bad-notes"), "Latin-1 bytes refused")
        check("not UTF-8 at byte 3" in (r.json or {}).get("error", ""), "where: %r" % r.json)
        r = srv.upload(arduino_bin(seed=812), "1.2.0", notes="a\x01b")
        eq((r.status, (r.json or {}).get("kind")), (400, "bad-notes"), "upload: same rule")
        eq(srv.api("PUT", "/api/v1/releases/999/notes", {"notes": "x"}).status, 404,
           "unknown release: 404")
        eq(srv.api("POST", "/api/v1/releases/%d/notes" % rid, {"notes": "x"}).status, 405,
           "POST: method not allowed")
        tok = srv.api("POST", "/api/v1/tokens", {"name": "v", "role": "viewer"}).json["token"]
        eq(srv.api("PUT", "/api/v1/releases/%d/notes" % rid, {"notes": "x"}, token=tok).status,
           403, "a viewer may not set notes")
        r = srv.api("PUT", "/api/v1/releases/%d/notes" % rid, {"notes": None})
        eq((r.status, r.json.get("notes")), (200, ""), "null clears them")

        # the CLI: --notes-file, notes ID [--set FILE|-|--clear]
        nf = os.path.join(TMP.name, "notes.md")
        open(nf, "w", encoding="utf-8").write(MD)
        af = os.path.join(TMP.name, "b.bin")
        open(af, "wb").write(arduino_bin(seed=813))
        rc, out, err = run(["release", "add", af, "--version", "1.3.0", "--notes-file", nf,
                            "--json"], srv)
        eq(rc, 0, "release add --notes-file: %s" % err)
        cid = json.loads(out)["id"] if rc == 0 else 0
        rc, out, err = run(["release", "notes", str(cid)], srv)
        eq((rc, out), (0, MD), "release notes ID prints them as they are")
        rc, out, err = run(["release", "notes", str(cid), "--set", "-"], srv, stdin="new\n")
        check(rc == 0 and "notes set, 4 bytes" in out, "--set -: %r %r" % (out, err))
        rc, out, err = run(["release", "notes", str(cid), "--clear"], srv)
        check(rc == 0 and "cleared" in out, "--clear: %r" % out)
        rc, out, err = run(["release", "notes", str(cid)], srv)
        check(rc == 0 and out == "" and "has no notes" in err, "no notes said: %r" % err)
        big = os.path.join(TMP.name, "big.md")
        open(big, "w").write("y" * 5000)
        rc, out, err = run(["release", "notes", str(cid), "--set", big], srv)
        check(rc == 1 and "longer than 4,095 bytes" in err, "too long: %r" % err)
        rc, out, err = run(["release", "notes", str(cid), "--set", "/nonexistent.md"], srv)
        check(rc == 1 and "cannot read the notes file /nonexistent.md" in err, "missing: %r" % err)
        bad = os.path.join(TMP.name, "bad.md")
        open(bad, "wb").write(b"caf\xe9\n")
        rc, out, err = run(["release", "notes", str(cid), "--set", bad], srv)
        check(rc == 1 and "not UTF-8" in err, "Latin-1 file: the server's sentence: %r" % err)
        rc, out, err = run(["release", "notes", "99", "--set", nf], srv)
        check(rc == 1 and "there is no release 99" in err, "unknown release: %r" % err)
        rc, out, err = run(["release", "add", af, "--version", "1.4.0", "--notes", "x",
                            "--notes-file", nf], srv)
        check(rc == 2 and "exclude each other" in err, "--notes with --notes-file: %r" % err)
    finally:
        srv.stop()


def t_adoption():
    srv = Server()
    try:
        old = srv.upload(arduino_bin(seed=821), "1.0.0").json
        app = arduino_bin(seed=822)
        rel = srv.upload(app, "2.0.0", "stable").json
        for i in range(3):  # real devices that run release 2: current
            r = srv.raw(esp8266_request(srv.port, mac="DE:AD:BE:EF:00:%02X" % i,
                                        md5sum=t.md5(app), size=len(app), version="2.0.0"))
            eq(r.status, 304, "device %d runs it" % i)
        # simulated devices (tool devices) updated to it by the real engine
        p = subprocess.run([t.BIN, "sim", "--server", "http://127.0.0.1:%d/update" % srv.port,
                            "--devices", "4", "--version", "1.5.0", "--seed", "5", "--quiet"],
                           capture_output=True, text=True, timeout=120)
        eq(p.returncode, 0, "sim updated: %s" % p.stderr[-300:])
        rels = {x["id"]: x for x in srv.api("GET", "/api/v1/releases").json["releases"]}
        eq(rels[rel["id"]].get("adoption"), {"devices": 3, "tool_devices": 4},
           "release 2: 3 devices and 4 simulated ones run it")
        eq(rels[old["id"]].get("adoption"), {"devices": 0, "tool_devices": 0},
           "release 1: nobody runs it")
        one = srv.api("GET", "/api/v1/releases/%d" % rel["id"]).json
        eq(one.get("adoption"), {"devices": 3, "tool_devices": 4}, "one release: the same")
        eq(one.get("serving"), ["stable"], "and the channels serving it")
        rc, out, err = run(["release", "show", str(rel["id"])], srv)
        check("3 devices run it (and 4 of updraft's tools)" in out, "release show: %r" % out)
    finally:
        srv.stop()


def t_reasons():
    srv = Server()
    try:
        p = subprocess.run([t.BIN, "sim", "--server", "http://127.0.0.1:%d/update" % srv.port,
                            "--devices", "30", "--interval", "1s", "--duration", "2s", "--seed",
                            "7", "--quiet"], capture_output=True, text=True, timeout=120)
        rel = srv.upload(arduino_bin(seed=831), "2.0.0").json
        r = srv.api("POST", "/api/v1/rollouts", {"release": rel["id"], "waves": "100%",
                                                 "min_sample": 30, "max_failures": "90%"})
        eq(r.status, 201, "rollout created: %r" % r.json)
        rid = r.json["id"]
        eq([w.get("failures") for w in r.json["waves_detail"]], [[]], "no failures yet")
        p = subprocess.run([t.BIN, "sim", "--server", "http://127.0.0.1:%d/update" % srv.port,
                            "--devices", "30", "--interval", "1s", "--duration", "8s", "--seed",
                            "7", "--quiet", "--bad-release", "2.0.0:50%:refuse"],
                           capture_output=True, text=True, timeout=120)
        st = srv.api("GET", "/api/v1/rollouts/%d" % rid).json
        w = st["waves_detail"][0]
        fails = w.get("failures", [])
        bad = w["failed"] + w["rolled_back"]
        check(bad >= 1, "some devices failed: %r" % st["total"])
        eq(sum(f["count"] for f in fails if f["state"] != "silent"), bad,
           "the reasons count every failed device")
        for f in fails:
            check(f["reason"] and f["macs"] and len(f["macs"]) <= min(3, f["count"]),
                  "a reason with its MACs: %r" % f)
            m = f["macs"][0]
            evs = [e["detail"] for e in events(srv, mac=m) if e["release"] == rel["id"]]
            check(f["reason"] in evs, "the reason is the device's recorded sentence: %r not in %r"
                  % (f["reason"], evs))
        counts = [f["count"] for f in fails]
        eq(counts, sorted(counts, reverse=True), "most devices first")
    finally:
        srv.stop()


GROUPS = {"preview": t_preview, "corpus": t_corpus, "notes": t_notes, "adoption": t_adoption,
          "reasons": t_reasons}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok")
