#!/usr/bin/env python3
"""The API the dashboard draws from (issue 11, docs/api.md "Fleet"): the real `updraft
serve` on 127.0.0.1 with a fleet of `updraft sim` devices (the real device engine) and
devices that send the ESP8266 core's byte-exact requests: the overview, adoption over
time, problems grouped by reason with the server's own sentences, the event tail for
polling, and `updraft problems`.

usage: test_dashboard_api.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: overview adoption problems events cli"""
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.parse

import test_server as t
from test_server import (Server, arduino_bin, check, eq, esp32_request, esp8266_request,
                         events, md5)

V1 = arduino_bin(seed=401)
V2 = arduino_bin(seed=402)
BIG = arduino_bin(seed=403, irom=700000)  # more than a 1 MB device has free


def sim(srv, *args):
    """updraft sim: the real device engine on simulated ESP8266 flash, against srv."""
    p = subprocess.run([t.BIN, "sim", "--server", "http://127.0.0.1:%d/update" % srv.port,
                        "--seed", "5", "--quiet", "--json"] + list(args), capture_output=True,
                       text=True, timeout=300)
    lines = p.stdout.strip().splitlines()
    return p.returncode, json.loads(lines[-1]) if lines else {}, p.stderr


def cli(srv, *args):
    env = dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
    p = subprocess.run([t.BIN] + list(args), env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def get(srv, path, status=200):
    r = srv.api("GET", path)
    eq(r.status, status, "GET %s: %s" % (path, r.body[:300]))
    return r.json or {}


def wait_for(what, fn, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    check(False, "timed out waiting for " + what)
    return None


def write_sim_firmware(srv, data, name):
    path = os.path.join(srv.tmp.name, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def age_device(srv, mac, seconds):
    """Make the registry say device mac was last seen seconds ago (a fleet that waited)."""
    ms = int((time.time() - seconds) * 1000)
    srv.set_seen(ms, "mac='%s'" % mac)


def t_overview():
    srv = Server()
    try:
        eq(get(srv, "/api/v1/overview?fresh=1")["devices"]["total"], 0, "an empty registry")
        rel = srv.upload(V1, "1.0.0", "stable").json
        rc, res, err = sim(srv, "--devices", "20", "--version", "0.9.0")
        eq(rc, 0, "sim: 20 devices update to 1.0.0 (%s)" % err[-300:])
        # three real devices: two on 0.9.0 with no room for anything, one silent for days
        for i in range(3):
            mac = "DE:BA:7A:D0:00:%02X" % i
            r = srv.raw(esp8266_request(srv.port, mac=mac, version="0.9.0", free=4096))
            eq(r.status, 304, "a device without room: 304")
        wait_for("23 devices", lambda: get(srv, "/api/v1/devices")["total"] == 23)
        age_device(srv, "DE:BA:7A:D0:00:02", 3 * 86400)
        ov = get(srv, "/api/v1/overview?fresh=1")
        d = ov["devices"]
        eq((d["total"], d["seen_24h"], d["silent"], d["never_seen"], d["tool_devices"]),
           (23, 22, 1, 0, 20), "devices: total, seen in 24 h, silent, never seen, the sim's")
        check(ov["as_of"] and ov["scan_ms"] >= 0, "the reading's time: %r" % ov["as_of"])
        plat = {p["platform"]: p for p in ov["versions"]}
        eq(list(plat), ["esp8266"], "one platform")
        vs = {v["version"]: (v["devices"], v["share"]) for v in plat["esp8266"]["versions"]}
        eq(vs, {"1.0.0": (20, round(20 / 23, 4)), "0.9.0": (3, round(3 / 23, 4))},
           "versions now, count and share (newest first)")
        eq([v["version"] for v in plat["esp8266"]["versions"]], ["1.0.0", "0.9.0"],
           "newest version first")
        # tool=none: the real devices only; tool=sim: the simulator's
        real = get(srv, "/api/v1/overview?tool=none")
        eq(real["devices"]["total"], 3, "tool=none: the real devices")
        eq(real["versions"][0]["versions"], [{"version": "0.9.0", "devices": 3, "share": 1}],
           "tool=none: their versions")
        eq(get(srv, "/api/v1/overview?tool=sim")["devices"]["total"], 20, "tool=sim")
        anyt = get(srv, "/api/v1/overview?tool=any")
        eq((anyt["devices"]["total"], anyt["devices"]["tool_devices"]), (20, 20),
           "tool=any: the devices of updraft's tools only")
        eq([(v["version"], v["devices"]) for v in anyt["versions"][0]["versions"]],
           [("1.0.0", 20)], "tool=any: their versions")
        # the problem count: the two real devices without room (the silent one too: its
        # last check was declined)
        pr = get(srv, "/api/v1/problems")
        eq(ov["problems"]["devices"], pr["devices"], "the overview counts what /problems lists")
        eq(ov["problems"]["devices"], 3, "three devices cannot take release %d" % rel["id"])
        # an active rollout with its waves, as GET /rollouts/<id> shows it
        rel2 = srv.upload(V2, "1.1.0").json
        r = srv.api("POST", "/api/v1/rollouts", {"release": rel2["id"], "waves": "10%,100%",
                                                 "target": "tool=sim"})
        eq(r.status, 201, "a rollout: %s" % r.body[:300])
        rid = r.json["id"]
        ov = get(srv, "/api/v1/overview?fresh=1")
        ro = [x for x in ov["rollouts"] if x["id"] == rid]
        check(ro, "the active rollout is in the overview: %r" % ov["rollouts"])
        if ro:
            shown = get(srv, "/api/v1/rollouts/%d" % rid)
            eq(ro[0]["waves_detail"], shown["waves_detail"], "its waves as the rollout shows them")
            eq(ro[0]["total"], shown["total"], "its counts as the rollout shows them")
            eq(ro[0]["total"]["eligible"], 20, "the 20 sim devices are its target")
        # a paused rollout is still active (it is the one that needs someone)
        eq(srv.api("POST", "/api/v1/rollouts/%d/pause" % rid, {}).status, 200, "pause it")
        ov = get(srv, "/api/v1/overview?fresh=1")
        eq([(x["id"], x["state"]) for x in ov["rollouts"]], [(rid, "paused")],
           "a paused rollout is in the overview")
        srv.api("POST", "/api/v1/rollouts/%d/abort" % rid, {})
        ov = get(srv, "/api/v1/overview?fresh=1")
        eq([x["id"] for x in ov["rollouts"]], [], "an aborted rollout is not active")
        # the 24-hour line: 23 h 50 min ago is seen, 24 h 10 min ago is silent; a row an
        # operator made for a device that never checked in is neither
        age_device(srv, "DE:BA:7A:D0:00:00", 23 * 3600 + 50 * 60)
        age_device(srv, "DE:BA:7A:D0:00:01", 24 * 3600 + 10 * 60)
        r = srv.api("PUT", "/api/v1/devices/DE:BA:7A:D0:00:99/channel", {"channel": "stable"})
        eq(r.status, 200, "a channel for a device never seen: %s" % r.body[:200])
        d = get(srv, "/api/v1/overview?fresh=1")["devices"]
        eq((d["total"], d["seen_24h"], d["silent"], d["never_seen"]), (24, 21, 2, 1),
           "23 h 50 min: seen; 24 h 10 min and 3 days: silent; never seen: its own count")
        eq(get(srv, "/api/v1/overview?tool=none")["devices"]["never_seen"], 1,
           "the row never seen is a real device's")
        # stale figures are answered at once and read again behind the answer
        a = get(srv, "/api/v1/overview")["as_of"]
        eq(get(srv, "/api/v1/overview")["as_of"], a, "without fresh=1: the figures in memory")
        # errors in the API's words
        for q, kind in (("tool=robots", "bad-tool"), ("fresh=yes", "bad-request")):
            r = srv.api("GET", "/api/v1/overview?" + q)
            eq((r.status, (r.json or {}).get("kind")), (400, kind), "overview?%s" % q)
            check("tool" in r.json["error"] or "fresh" in r.json["error"], r.json["error"])
        r = srv.api("POST", "/api/v1/overview", {})
        eq(r.status, 405, "POST /overview")
        eq(srv.api("GET", "/api/v1/overview", token=None).status, 401, "a token is needed")
    finally:
        srv.stop()


def t_adoption():
    srv = Server(extra=["--adoption-every", "1s"])
    try:
        srv.upload(V1, "1.0.0", "stable")
        rc, _, err = sim(srv, "--devices", "10", "--version", "0.9.0")
        eq(rc, 0, "sim: 10 devices on 1.0.0 (%s)" % err[-300:])
        # the series from here on (a snapshot taken while the sim ran, on a slow machine,
        # holds a device still on 0.9.0)
        since = int(time.time()) + 1
        time.sleep(2.5)  # snapshots with every device on 1.0.0
        srv.upload(V2, "1.1.0", "stable")
        fw = write_sim_firmware(srv, V1, "v1.bin")
        rc, _, err = sim(srv, "--devices", "10", "--version", "1.0.0", "--firmware", fw)
        eq(rc, 0, "sim: the 10 devices update to 1.1.0 (%s)" % err[-300:])
        time.sleep(2.5)

        def series():
            a = get(srv, "/api/v1/adoption?bucket=1s&platform=esp8266&since=%d" % since)
            return a if a.get("series") and any(
                s["version"] == "1.1.0" and s["share"] and s["share"][-1] == 1
                for s in a["series"]) else None
        a = wait_for("1.1.0 everywhere in the last snapshot", series)
        if not a:
            return
        eq(a["platform"], "esp8266", "the platform asked for")
        eq(a["bucket_s"], 1, "one-second buckets")
        nb = len(a["buckets"])
        check(nb >= 3, "a point per snapshot: %d" % nb)
        eq(len(a["snapshots"]), nb, "the snapshot behind each point")
        by = {s["version"]: s for s in a["series"]}
        eq(sorted(by), ["1.0.0", "1.1.0"], "one series per version")
        for s in a["series"]:
            eq((len(s["devices"]), len(s["share"])), (nb, nb), "a value per bucket")
        tot = a["totals"][0]["devices"]
        check(all(x == 10 for x in tot), "10 devices at every snapshot: %r" % tot)
        old, new = by["1.0.0"], by["1.1.0"]
        first = old["share"].index(1) if 1 in old["share"] else -1
        check(first >= 0, "a bucket where every device ran 1.0.0: %r" % old["share"])
        eq((old["share"][-1], new["share"][-1]), (0, 1), "then every device runs 1.1.0")
        for i in range(nb):
            eq(old["devices"][i] + new["devices"][i], tot[i], "bucket %d adds up" % i)
        # hour buckets: the last snapshot of the hour
        h = get(srv, "/api/v1/adoption")
        check(1 <= len(h["buckets"]) <= 2, "hourly by default: %r" % h["buckets"])
        hb = {s["version"]: s["devices"][-1] for s in h["series"]}
        eq(hb.get("1.1.0"), 10, "the hour's point is its last snapshot")
        eq(get(srv, "/api/v1/adoption?platform=esp32")["series"], [], "no esp32 devices")
        eq(get(srv, "/api/v1/adoption?tool=none")["series"], [], "no real devices")
        eq([s["version"] for s in a["series"]], ["1.1.0", "1.0.0"], "newest version first")
        # a second platform: each version's share is of its own platform's devices
        r = srv.raw(esp32_request(srv.port, version="3.0.0"))
        check(r.status in (200, 304), "an ESP32 checks in: %d" % r.status)

        def both():
            a = get(srv, "/api/v1/adoption?bucket=1s")
            return a if {s["platform"] for s in a["series"]} == {"esp32", "esp8266"} and \
                all(x["devices"][-1] for x in a["totals"]) else None
        a = wait_for("a snapshot with the ESP32", both)
        if a:
            last = {(s["platform"], s["version"]): (s["devices"][-1], s["share"][-1])
                    for s in a["series"]}
            eq((last[("esp32", "3.0.0")], last[("esp8266", "1.1.0")]), ((1, 1), (10, 1)),
               "the ESP32's version: all of its platform; 1.1.0: all of the ESP8266s")
            eq([(x["platform"], x["devices"][-1]) for x in a["totals"]],
               [("esp32", 1), ("esp8266", 10)], "a total per platform")
        for q, kind in (("bucket=banana", "bad-bucket"), ("bucket=0s", "bad-bucket"),
                        ("since=yesterday", "bad-since"),
                        ("bucket=1s&since=2020-01-01", "too-many-buckets")):
            r = srv.api("GET", "/api/v1/adoption?" + q)
            eq((r.status, (r.json or {}).get("kind")), (400, kind), "adoption?%s: %s"
               % (q, r.body[:200]))
    finally:
        srv.stop()
    # the snapshots survive a restart (they are in the database)
    srv2 = Server(data=srv.data)
    try:
        a = get(srv2, "/api/v1/adoption?bucket=1s&since=%d" % int(time.time() - 300))
        check(len(a["buckets"]) >= 3, "the snapshots are kept: %d" % len(a["buckets"]))
    finally:
        srv2.stop()
        srv.tmp.cleanup()


def group(pr, kind, reason=None, release=None):
    for g in pr["groups"]:
        if g["kind"] == kind and (reason is None or g["reason"] == reason) and \
                (release is None or g["release"] == release):
            return g
    return None


def t_problems():
    srv = Server(extra=["--failure-backoff", "none"])
    try:
        rel = srv.upload(V1, "1.0.0", "stable").json
        rid = rel["id"]
        old = "a43ad019932b627ab90ee35a94a764ee"
        # declined: no room (the fit rules: -100)
        small = ["DE:BA:7A:E0:00:%02X" % i for i in range(3)]
        for mac in small:
            r = srv.raw(esp8266_request(srv.port, mac=mac, version="0.9.0", free=4096))
            eq(r.status, 304, "no room: 304")
        # failed: it reports that the release failed; rolled back: an ESP32-style report
        failed, rolled = "DE:BA:7A:E1:00:01", "DE:BA:7A:E1:00:02"
        for mac, rb in ((failed, 0), (rolled, 1)):
            rep = "v=1;result=%d;md5=%s;version=1.0.0;rollback=%d" % (0 if rb else 7, md5(V1), rb)
            r = srv.raw(t.with_report(esp8266_request(srv.port, mac=mac, md5sum=old,
                                                      version="0.9.0"), rep))
        # an update loop: downloaded three times and never run
        loop = "DE:BA:7A:E2:00:01"
        for i in range(3):  # an old core: it says nothing about what it runs
            r = srv.raw(esp8266_request(srv.port, mac=loop, md5sum=None, version=None))
            eq(r.status, 200, "the looping device downloads it (%d)" % (i + 1))
            time.sleep(0.3)
        # silent after the update: downloaded it and never came back
        quiet = "DE:BA:7A:E3:00:01"
        r = srv.raw(esp8266_request(srv.port, mac=quiet, md5sum=old, version="0.9.0"))
        eq(r.status, 200, "the quiet device downloads it")
        # fine: runs it
        ok = "DE:BA:7A:E4:00:01"
        srv.raw(esp8266_request(srv.port, mac=ok, md5sum=md5(V1), size=len(V1), version="1.0.0"))
        wait_for("held devices", lambda: len(events(srv, kind="held")) >= 3)
        wait_for("8 devices", lambda: get(srv, "/api/v1/devices")["total"] == 8)
        time.sleep(0.5)
        age_device(srv, quiet, 3600)
        time.sleep(1.2)  # the device rows the check path caches (a second at most)
        pr = get(srv, "/api/v1/problems?fresh=1")
        kinds = sorted((g["kind"], g["reason"], g["devices"]) for g in pr["groups"])
        eq(kinds, [("declined", "no-space", 3), ("failed", "held-back", 1),
                   ("rolled-back", "held-back", 1), ("silent-after-update", "silent", 1),
                   ("update-loop", "held-back", 1)], "the groups: %r" % pr["groups"])
        eq(pr["devices"], 7, "seven devices need attention")
        eq([g["devices"] for g in pr["groups"]][0], 3, "the largest group first")
        g = group(pr, "declined", "no-space")
        if g:
            eq(sorted(g["sample"]), small, "a sample of its devices")
            eq((g["release"], g["version"]), (rid, "1.0.0"), "the release concerned")
            check("would fail -100" in g["sentence"], "the fit rule's sentence: %r" % g["sentence"])
            last = events(srv, g["sample"][0], "declined")
            eq(g["sentence"], last[0]["detail"] if last else None,
               "the sentence the server recorded for the device")
        g = group(pr, "failed")
        if g:
            eq(g["sample"], [failed], "the failed device")
            check("'updraft device retry %s' offers it again" % failed in g["sentence"],
                  "the hold's sentence says what to do: %r" % g["sentence"])
            r = srv.raw(esp8266_request(srv.port, mac=failed, md5sum=old, version="0.9.0"))
            eq(r.headers.get("x-updraft-reason"), g["sentence"],
               "the same sentence as the device's own answer")
        g = group(pr, "update-loop")
        if g:
            eq(g["sample"], [loop], "the looping device")
        g = group(pr, "silent-after-update")
        if g:
            eq((g["sample"], g["release"]), ([quiet], rid), "the quiet device and its release")
            check("has not checked in since" in g["sentence"], g["sentence"])
        # tool=sim: none of these; a fix takes a device off the list
        eq(get(srv, "/api/v1/problems?tool=sim")["groups"], [], "tool=sim: no problems")
        eq(srv.api("POST", "/api/v1/devices/%s/retry" % failed, {}).status, 200, "retry")
        pr = get(srv, "/api/v1/problems?fresh=1")
        eq(group(pr, "failed"), None, "a retried device has no problem left")
        eq(pr["devices"], 6, "six left")
        # the same reason for two releases: a group each, each with its release's sentence
        beta = srv.upload(arduino_bin(seed=404), "1.0.1", "beta").json
        bmac = "DE:BA:7A:E5:00:01"
        eq(srv.api("PUT", "/api/v1/devices/%s/channel" % bmac, {"channel": "beta"}).status, 200,
           "a device on beta")
        r = srv.raw(esp8266_request(srv.port, mac=bmac, version="0.9.0", free=4096))
        eq(r.status, 304, "no room for beta's release either")
        wait_for("the beta device declined", lambda: events(srv, bmac, "declined"))
        time.sleep(1.2)
        pr = get(srv, "/api/v1/problems?fresh=1")
        nospace = sorted((g["release"], g["devices"], sorted(g["sample"])) for g in pr["groups"]
                         if g["reason"] == "no-space")
        eq(nospace, sorted([(rid, 3, small), (beta["id"], 1, [bmac])]),
           "no room for release %d, no room for release %d: two groups" % (rid, beta["id"]))
        g = group(pr, "declined", "no-space", beta["id"])
        if g:
            check("release %d (version 1.0.1) not offered" % beta["id"] in g["sentence"],
                  "the beta group's sentence names its release: %r" % g["sentence"])
        # a device waiting for its rollout wave is no problem
        rel2 = srv.upload(V2, "1.1.0", "stable").json
        r = srv.api("POST", "/api/v1/rollouts", {"release": rel2["id"], "start_at": "+2h",
                                                 "target": "mac=%s" % ok})
        eq(r.status, 201, "a rollout: %s" % r.body[:200])
        srv.raw(esp8266_request(srv.port, mac=ok, md5sum=md5(V1), size=len(V1), version="1.0.0"))
        pr = get(srv, "/api/v1/problems?fresh=1")
        eq([g for g in pr["groups"] if ok in g["sample"]], [],
           "a device in a rollout is not a problem")
        eq(srv.api("DELETE", "/api/v1/problems").status, 405, "DELETE /problems")
    finally:
        srv.stop()


def t_events():
    srv = Server()
    try:
        srv.upload(V1, "1.0.0", "stable")
        rc, _, err = sim(srv, "--devices", "6", "--version", "0.9.0")
        eq(rc, 0, "sim (%s)" % err[-300:])
        newest = get(srv, "/api/v1/events?limit=1000")["events"]
        check(len(newest) >= 12, "events recorded: %d" % len(newest))
        want = [e["id"] for e in reversed(newest)]
        got, after, pages = [], 0, 0
        while True:
            page = get(srv, "/api/v1/events?after=%d&limit=5" % after)
            ids = [e["id"] for e in page["events"]]
            eq(ids, sorted(ids), "oldest first")
            got += ids
            pages += 1
            if not ids:
                eq(page["last_id"], after, "nothing new: last_id stays")
                eq(page["more"], False, "nothing more")
                break
            eq(page["last_id"], ids[-1], "last_id: the last event's id")
            eq(page["more"], len(ids) == 5, "more when the limit cut the page")
            after = page["last_id"]
        eq(got, want, "the tail, page by page, is every event once, in order")
        # new events appear after the last id seen
        srv.upload(V2, "1.1.0")
        tail = get(srv, "/api/v1/events?after=%d" % after)
        check([e for e in tail["events"] if e["kind"] == "audit"], "the upload's audit event")
        # filters
        mac = newest[0]["mac"] or [e for e in newest if e["mac"]][0]["mac"]
        one = get(srv, "/api/v1/events?after=0&mac=%s" % urllib.parse.quote(mac))["events"]
        check(one and all(e["mac"] == mac for e in one), "mac filter")
        kinds = get(srv, "/api/v1/events?after=0&kind=offered")["events"]
        eq(len(kinds), 6, "kind filter: six offers")
        # updraft events --follow: the tail, each event once, in order
        env = dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port,
                   UPDRAFT_TOKEN=t.TOKEN)
        fol = subprocess.Popen([t.BIN, "events", "--follow", "--json", "--limit", "1"],
                               stdout=subprocess.PIPE, text=True, env=env)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in fol.stdout], daemon=True).start()
        try:
            first = json.loads(lines.get(timeout=20))
            rc, _, err = sim(srv, "--devices", "3", "--version", "0.8.0")
            newest = get(srv, "/api/v1/events?limit=1")["events"][0]["id"]
            seen = [first["id"]]
            deadline = time.time() + 20
            while seen[-1] < newest and time.time() < deadline:
                try:
                    seen.append(json.loads(lines.get(timeout=1))["id"])
                except queue.Empty:
                    pass
            eq(seen, list(range(first["id"], newest + 1)),
               "--follow prints every new event once, in order")
        finally:
            fol.terminate()
            fol.wait(10)
        for q, kind in (("after=x", "bad-after"), ("after=-1", "bad-after"),
                        ("after=0&before=9", "bad-request"), ("after=0&limit=0", "bad-limit"),
                        ("after=0&limit=1001", "bad-limit")):
            r = srv.api("GET", "/api/v1/events?" + q)
            eq((r.status, (r.json or {}).get("kind")), (400, kind), "events?%s" % q)
    finally:
        srv.stop()


def t_cli():
    srv = Server()
    try:
        rc, out, err = cli(srv, "problems", "--help")
        eq(rc, 0, "problems --help")
        check("--json" in out and "--tool" in out, "help names the options: %s" % out)
        rc, out, err = cli(srv, "problems")
        eq((rc, out.strip()), (0, "no problems: every device checks in and runs what it should"),
           "no problems: %s" % err)
        rel = srv.upload(BIG, "2.0.0", "stable").json
        rc, _, err = sim(srv, "--devices", "4", "--version", "1.0.0", "--layout", "esp8266-1m64")
        rc, out, err = cli(srv, "problems", "--tool", "sim", "--fresh")
        eq(rc, 0, "updraft problems: %s" % err)
        check("4 devices" in out and "declined" in out, "the group and its count: %s" % out)
        check("release %d (version 2.0.0) not offered" % rel["id"] in out,
              "the server's sentence: %s" % out)
        rc, out, err = cli(srv, "problems", "--json", "--tool", "sim")
        j = json.loads(out)
        eq((j["devices"], j["groups"][0]["devices"]), (4, 4), "--json: the API's answer")
        rc, out, err = cli(srv, "problems", "--tool", "robots")
        eq(rc, 2, "a bad --tool")
        check("--tool" in err and "none" in err, "the error names the flag: %s" % err)
        rc, out, err = cli(srv, "problems", "extra")
        eq(rc, 2, "an unexpected argument")
    finally:
        srv.stop()


GROUPS = {"overview": t_overview, "adoption": t_adoption, "problems": t_problems,
          "events": t_events, "cli": t_cli}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
