#!/usr/bin/env python3
"""Staged rollouts (issue 9, docs/rollouts.md): the real `updraft serve` on 127.0.0.1, a
fleet of devices that send the ESP8266 core's byte-exact requests, install what they are
offered (or fail to, or never come back), and the operator's CLI and API.

usage: test_rollout.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: plan admin converge badpause rollback late restart precedence sim lifecycle window
       reasons"""
import json
import os
import subprocess
import sys
import time

import test_server as t
from test_server import (Server, arduino_bin, check, eq, esp8266_request, events, md5,
                         with_report)

OLD = arduino_bin(seed=301)
NEW = arduino_bin(seed=302)
NEWER = arduino_bin(seed=303)


class Hook:
    """A webhook receiver on 127.0.0.1: answers the first POST with 500 (the server must
    retry), the others with 204; keeps the JSON bodies."""

    def __init__(self):
        import http.server
        import threading
        hook = self
        self.bodies, self.posts = [], 0

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.posts += 1
                if hook.posts == 1:
                    self.send_response(500)
                else:
                    hook.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hooks/updraft" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, event, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for b in self.bodies:
                if b.get("event") == event:
                    return b
            time.sleep(0.1)
        return None

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Device:
    """An ESP8266 running image `img` with version `ver`. fate: what it does with an
    update it downloads: "ok" installs it, "fail" keeps its old image (the Updater
    refused it or it did not boot: it checks in with the old MD5), "silent" never
    checks in again."""

    def __init__(self, srv, n, img=OLD, ver="1.0.0", fate="ok"):
        self.srv, self.mac = srv, "DE:BA:7A:C0:%02X:%02X" % (n >> 8, n & 0xFF)
        self.img, self.ver, self.fate, self.gone = img, ver, fate, False
        self.got = []  # versions it was offered

    def check(self):
        if self.gone:
            return None
        r = self.srv.raw(esp8266_request(self.srv.port, mac=self.mac, md5sum=md5(self.img),
                                         size=len(self.img), version=self.ver))
        if r.status == 200:
            ver = r.headers.get("x-version")
            self.got.append(ver)
            if self.fate == "ok":
                self.img, self.ver = r.body, ver
            elif self.fate == "silent":
                self.gone = True
        return r


def fleet(srv, n, start=0, **kw):
    return [Device(srv, start + i, **kw) for i in range(n)]


def rounds(devs, until, timeout=30, pause=0.15):
    """Let every device check once per round until until() holds; True when it did."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for d in devs:
            d.check()
        if until():
            return True
        time.sleep(pause)
    return False


def cli(srv, *args):
    env = dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
    p = subprocess.run([t.BIN] + list(args), env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def show(srv, rid):
    r = srv.api("GET", "/api/v1/rollouts/%d" % rid)
    eq(r.status, 200, "GET rollout %d" % rid)
    return r.json or {}


def registered(srv, n, timeout=20):
    """Wait until the registry holds n devices: the writer thread records check-ins after
    the answers (a rollout made earlier counts only the devices written by then)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if srv.api("GET", "/api/v1/devices?limit=1").json.get("total") == n:
            return
        time.sleep(0.05)
    check(False, "the registry holds the %d devices that checked in" % n)


def setup(srv, n, **kw):
    """Release 1 (1.0.0) on stable, n devices that run it, release 2 (2.0.0) uploaded."""
    old = srv.upload(OLD, "1.0.0", "stable").json
    devs = fleet(srv, n, **kw)
    for d in devs:
        eq(d.check().status, 304, "device runs the channel's release")
    registered(srv, n)
    new = srv.upload(NEW, "2.0.0").json
    return old, new, devs


def create(srv, body, status=201):
    r = srv.api("POST", "/api/v1/rollouts", body)
    eq(r.status, status, "POST /api/v1/rollouts %r: %r" % (body, r.json))
    return r.json or {}


def t_admin():
    """create, plan, list, show, pause, resume, abort over the CLI and the API, with
    their errors in the CLI's words."""
    srv = Server()
    try:
        old, new, devs = setup(srv, 30)
        # plan: exact counts of the known devices, a sample, nothing started
        rc, out, err = cli(srv, "rollout", "plan", "--release", str(new["id"]), "--waves",
                           "10%,50%,100%", "--json")
        eq(rc, 0, "rollout plan: exit 0 (%s)" % err)
        plan = json.loads(out) if rc == 0 else {}
        sizes = [w["eligible"] for w in plan.get("waves_detail", [])]
        eq(sizes, [3, 12, 15], "plan: 10%% of 30 is 3, 50%% is 15 (12 more), the rest 15")
        eq(plan.get("total", {}).get("pending"), 30, "plan: 30 devices pending")
        eq(len(plan.get("waves_detail", [{}])[0].get("sample", [])), 3, "plan: a sample per wave")
        eq(srv.api("GET", "/api/v1/rollouts").json, {"rollouts": []}, "plan starts nothing")
        rc, out, err = cli(srv, "rollout", "plan", "--release", str(new["id"]), "--waves",
                           "10%,50%,100%")
        check(rc == 0 and "nothing is started" in out and "ELIGIBLE" in out,
              "plan's table: %r %r" % (out, err))
        # the same waves when created: membership is the hash of MAC and rollout id
        rc, out, err = cli(srv, "rollout", "create", "--release", str(new["id"]), "--waves",
                           "10%,50%,100%", "--soak", "1h")
        eq(rc, 0, "rollout create: exit 0 (%s)" % err)
        check("rollout 1: release 2" in out and "running" in out and "wave 1 of 3 opened" in out,
              "create prints the rollout: %r" % out)
        st = show(srv, 1)
        eq([w["eligible"] for w in st["waves_detail"]], sizes, "create's waves are the plan's")
        eq(st["waves_detail"][0]["sample"], plan["waves_detail"][0]["sample"],
           "the same devices as planned")
        # wave 1's devices are offered, the others are not
        first = set(st["waves_detail"][0]["sample"])
        for d in devs:
            r = d.check()
            eq(r.status, 200 if d.mac in first else 304,
               "%s %s wave 1" % (d.mac, "in" if d.mac in first else "not in"))
        # errors in CLI words
        bad = [(("--release", "x"), "is not a release id"),
               (("--release", "2", "--waves", "10%,5%"), "--waves: wave 2 ('5%') is not larger"),
               (("--release", "2", "--waves", "0%"), "--waves: wave 1 ('0%') is not a share"),
               (("--release", "2", "--max-failures", "5"), None),
               (("--release", "2", "--max-failures", "abc"), "--max-failures: 'abc' is not"),
               (("--release", "2", "--soak", "5x"), "--soak takes a duration"),
               (("--release", "2", "--wavs", "1%"), "did you mean --waves?"),
               (("--release", "99"), "there is no release 99"),
               (("--waves", "1%"), "--release is needed"),
               (("--release", "2", "--webhook", "ftp://x"), "--webhook: 'ftp://x' is not an http")]
        for args, want in bad:
            rc, out, err = cli(srv, "rollout", "create", *args)
            if want is None:  # an overlap: refused by the server, naming rollout 1
                check(rc == 1 and "rollout 1" in err and "already covers 30" in err,
                      "overlapping create refused, overlap named: %r" % err)
                continue
            check(rc != 0 and want in err, "create %r: %r in %r" % (args, want, err))
        r = srv.api("POST", "/api/v1/rollouts", {"release": new["id"], "wavez": "1%"})
        check(r.status == 400 and "unknown field \"wavez\"" in r.json["error"],
              "API: unknown field named: %r" % r.json)
        r = srv.api("POST", "/api/v1/rollouts", {"release": new["id"]})
        check(r.status == 409 and "already covers" in r.json["error"], "API: overlap is 409")
        # pause: devices not started are no longer offered; resume; abort
        rc, out, err = cli(srv, "rollout", "pause", "1", "--note", "lunch")
        check(rc == 0 and "paused by admin-token: lunch" in out, "pause: %r %r" % (out, err))
        rc, out, err = cli(srv, "rollout", "pause", "1")
        check(rc == 1 and "paused already" in err, "pause twice: %r" % err)
        fresh = Device(srv, 900)
        rc, out, err = cli(srv, "rollout", "resume", "1")
        check(rc == 0 and "running" in out and "resumed by admin-token" in out, "resume: %r" % out)
        rc, out, err = cli(srv, "rollout", "abort", "1", "--note", "enough")
        check(rc == 0 and "aborted by admin-token: enough" in out, "abort: %r" % out)
        rc, out, err = cli(srv, "rollout", "resume", "1")
        check(rc == 1 and "rollout 1 is aborted" in err, "resume an aborted one: %r" % err)
        eq(fresh.check().status, 304, "after the abort nobody new is offered the release")
        # another rollout's waves are other devices: the hash is of the MAC and the id
        rc, out, err = cli(srv, "rollout", "plan", "--release", str(new["id"]), "--waves",
                           "10%,50%,100%", "--json")
        again = json.loads(out) if rc == 0 else {}
        eq(again.get("id"), 2, "the plan is of rollout 2")
        w1 = set(again.get("waves_detail", [{}])[0].get("sample", []))
        # (31 devices now: 10% is 4; were the hash the MAC's alone, they would be rollout
        # 1's 3 and one more)
        check(len(w1) == 4 and not first <= w1,
              "rollout 2's first wave is not rollout 1's: %r, %r" % (sorted(w1), sorted(first)))
        rc, out, err = cli(srv, "rollout", "show", "7")
        check(rc == 1 and "there is no rollout 7" in err, "show unknown: %r" % err)
        rc, out, err = cli(srv, "rollout", "list")
        check(rc == 0 and "aborted" in out and "1/3" in out, "list: %r" % out)
        kinds = [e["kind"] for e in events(srv)]
        for k in ("rollout-created", "rollout-wave", "rollout-paused", "rollout-resumed",
                  "rollout-aborted"):
            check(k in kinds, "event %s recorded" % k)
        check(any("paused by admin-token: lunch" in e["detail"] for e in events(srv, kind="rollout-paused")),
              "the pause event says who and why")
        # targets: a filter (docs/filters.md); disjoint targets run side by side
        for d in devs[:5]:
            eq(srv.api("PUT", "/api/v1/devices/%s/channel" % d.mac, {"channel": "beta"}).status,
               200, "device to channel beta")
        rc, out, err = cli(srv, "rollout", "create", "--release", str(new["id"]), "--target",
                           "channel=beta", "--waves", "100%", "--json")
        eq(rc, 0, "create --target channel=beta (%s)" % err)
        beta = json.loads(out) if rc == 0 else {}
        eq(beta.get("total", {}).get("eligible"), 5, "the beta target names the 5 beta devices")
        eq(beta.get("target"), "channel=beta", "the target in its canonical form")
        rc, out, err = cli(srv, "rollout", "create", "--release", str(new["id"]), "--target",
                           "channel=stable", "--waves", "100%")
        eq(rc, 0, "a disjoint target runs beside it (%s)" % err)
        rc, out, err = cli(srv, "rollout", "plan", "--release", str(new["id"]))
        check(rc == 1 and "rollout %d" % beta.get("id", 0) in err and "already covers 5" in err,
              "an overlapping target is refused with the overlap named: %r" % err)
        rc, out, err = cli(srv, "rollout", "create", "--release", "2", "--target", "verison<2")
        check(rc == 2 and "--target: filter term 'verison<2'" in err and "version" in err,
              "a bad target in CLI words: %r" % err)
        r = beta and devs[0].check()
        check(r and r.status == 200 and "(rollout %d, wave 1)" % beta["id"] in srv.api(
            "GET", "/api/v1/devices/" + devs[0].mac).json.get("last_result", ""),
            "a beta device is offered the release by the beta rollout")
        rc, out, err = cli(srv, "rollout", "--help")
        check(rc == 0 and "rollback" in out and "plan" in out, "rollout --help")
        rc, out, err = cli(srv, "rollout", "create", "--help")
        check(rc == 0 and "--max-failures" in out and "--min-sample" in out, "create --help")
    finally:
        srv.stop()


def t_converge():
    """A good release goes 10% -> 50% -> 100% and every device converges; the rollout
    completes by itself."""
    srv = Server()
    try:
        old, new, devs = setup(srv, 40)
        st = create(srv, {"release": new["id"], "waves": "10%,50%,100%", "soak": "1s",
                          "min_sample": 2})
        rid = st.get("id")

        def done():
            s = show(srv, rid)
            return s["state"] == "completed" and all(d.ver == "2.0.0" for d in devs)
        ok = rounds(devs, done, timeout=90)
        check(ok, "converged and completed: %r" % show(srv, rid).get("reason"))
        waves = [e["detail"].split(": ", 1)[1] for e in reversed(events(srv, kind="rollout-wave"))]
        check(len(waves) == 3 and all(w.startswith("wave %d of 3 opened" % (i + 1))
                                      for i, w in enumerate(waves)),
              "the waves opened one after the other: %r" % waves)
        check(waves[1:] and all("(soaked)" in w for w in waves[1:]),
              "waves 2 and 3 opened when the one before had soaked: %r" % waves)
        st = show(srv, rid)
        eq(st["total"]["updated"], 40, "all 40 updated")
        eq(st["total"]["failed"] + st["total"]["silent"], 0, "no failures")
        check(st["reason"].startswith("completed"), "reason: %r" % st["reason"])
        eq(by_state(srv)["completed"], 1, "/metrics: 1 rollout completed")
        # after completion the release is not offered by the finished rollout any more;
        # devices run it: current
        eq(devs[0].check().status, 304, "a device on 2.0.0 is current")
    finally:
        srv.stop()


def t_badpause():
    """A release that fails on about half the devices pauses in its first wave: no more
    devices than wave 1 get it, the rollout says why in a sentence, and devices that have
    not started are no longer offered it."""
    srv = Server()
    try:
        old = srv.upload(OLD, "1.0.0", "stable").json
        devs = [Device(srv, i, fate=("fail" if i % 2 else "ok")) for i in range(100)]
        for i in range(0, 100, 8):
            devs[i].fate = "silent"  # ESP8266 boot loop: never seen again
        for d in devs:
            d.check()
        registered(srv, 100)
        new = srv.upload(NEW, "2.0.0").json
        hook = Hook()
        st = create(srv, {"release": new["id"], "waves": "10%,50%,100%", "soak": "2s",
                          "silent_after": "2s", "max_failures": "5%", "webhook": hook.url})
        rid = st.get("id")
        wave1 = st["waves_detail"][0]["eligible"]
        eq(wave1, 10, "wave 1 is 10 of 100")
        t0 = time.time()
        ok = rounds(devs, lambda: show(srv, rid)["state"] == "paused", timeout=90)
        check(ok, "the rollout paused itself")
        st = show(srv, rid)
        reached = sum(1 for d in devs if d.got)
        check(reached <= wave1, "reached %d devices, no more than wave 1's %d" % (reached, wave1))
        eq(st["wave"], 1, "paused in wave 1")
        reason = st["reason"]
        check(reason.startswith("paused: ") and " devices in wave 1 failed (" in reason and
              "% > 5%)" in reason, "the pause's sentence: %r" % reason)
        ev = []
        for _ in range(40):
            ev = events(srv, kind="rollout-paused")
            if ev:
                break
            time.sleep(0.05)
        check(ev and ev[0]["detail"] == "rollout %d: %s" % (rid, reason),
              "the pause is an event with the sentence: %r" % ev[:1])
        # nothing more is offered to devices that have not started, however long we wait
        rounds(devs, lambda: False, timeout=2.5)
        eq(sum(1 for d in devs if d.got), reached, "paused: no new device was offered it")
        r = Device(srv, 500).check()
        eq(r.status, 304, "a new device is not offered the paused rollout's release")
        print("paused after %.1f s: %s" % (time.time() - t0, reason))
        # the webhook: retried after the receiver's 500, the pause with its sentence
        b = hook.wait("rollout-paused")
        check(b and b["rollout"] == rid and b["state"] == "paused" and b["reason"] == reason,
              "the pause reached the webhook: %r" % b)
        check(hook.wait("rollout-created") is not None and hook.posts >= 3,
              "the first message was retried after the 500: %d posts, %r" % (hook.posts,
                                                                            hook.bodies))
        hook.stop()
        # the API says the same, and the CLI shows it
        rc, out, err = cli(srv, "rollout", "show", str(rid))
        check(rc == 0 and "state:   paused" in out and reason in out, "show: %r" % out)
        print("$ updraft rollout show %d\n%s" % (rid, out))  # docs/rollouts.md quotes it
        # resume: failures before the resume no longer count; the rollout goes on and,
        # failing again past the limit with the next wave's results, pauses again
        eq(srv.api("POST", "/api/v1/rollouts/%d/resume" % rid).status, 200, "resume")
        ok = rounds(devs, lambda: show(srv, rid)["state"] == "paused", timeout=90)
        check(ok, "paused again after the resume")
        st = show(srv, rid)
        check(st["wave"] <= 2, "the second pause is in wave 2 at the latest: %r" % st["reason"])
        # resumed again with no device checking: the failures it was resumed over do not
        # pause it again (the rollout thread judges the health every 250 ms)
        eq(srv.api("POST", "/api/v1/rollouts/%d/resume" % rid).status, 200, "resume again")
        time.sleep(1.5)
        eq(show(srv, rid)["state"], "running", "still running 1.5 s after the resume")
    finally:
        srv.stop()


def t_rollback():
    """rollout rollback: the devices that got the bad release go back to the one before,
    a downgrade allowed for them alone."""
    srv = Server()
    try:
        old = srv.upload(OLD, "1.0.0", "stable").json
        devs = [Device(srv, i, fate=("fail" if i % 4 == 1 else "ok")) for i in range(40)]
        for d in devs:
            d.check()
        registered(srv, 40)
        new = srv.upload(NEW, "2.0.0").json
        st = create(srv, {"release": new["id"], "waves": "25%,100%", "soak": "30s",
                          "max_failures": "60%", "min_sample": 1})
        rid = st["id"]
        rounds(devs, lambda: show(srv, rid)["total"]["updated"] +
               show(srv, rid)["total"]["failed"] >= 10, timeout=60)
        got = [d for d in devs if d.got]
        on_new = [d for d in devs if d.ver == "2.0.0"]
        check(len(got) == 10 and on_new, "wave 1 took it: %d got, %d run it" % (len(got),
                                                                                len(on_new)))
        rc, out, err = cli(srv, "rollout", "rollback", str(rid), "--json")
        eq(rc, 0, "rollout rollback: exit 0 (%s)" % err)
        rb = json.loads(out) if rc == 0 else {}
        eq(rb.get("release"), old["id"], "the rollback's release is the one before")
        eq(rb.get("rollback_of"), rid, "it names the rolled-back rollout")
        eq(rb.get("total", {}).get("eligible"), 10, "its devices: the 10 that got 2.0.0")
        eq(show(srv, rid)["state"], "aborted", "the bad rollout is aborted")
        ok = rounds(devs, lambda: all(d.ver == "1.0.0" for d in devs) and
                    show(srv, rb["id"])["state"] == "completed", timeout=90)
        check(ok, "every device runs 1.0.0 again, the rollback completed: %r" %
              show(srv, rb["id"]).get("reason"))
        for d in devs:
            if d not in got:
                eq(d.got, [], "%s never got anything" % d.mac)
        # downgrades stay refused outside the rollback
        other = Device(srv, 300, img=NEW, ver="2.0.0")
        r = other.check()
        check(r.status == 304 and "downgrades are offered only" in
              r.headers.get("x-updraft-reason", ""), "no silent downgrade for others: %r" %
              r.headers.get("x-updraft-reason"))
        rc, out, err = cli(srv, "rollout", "rollback", "99")
        check(rc == 1 and "there is no rollout 99" in err, "rollback of nothing: %r" % err)
    finally:
        srv.stop()


def t_late():
    """Devices that appear after the rollout started and match its target join their wave."""
    srv = Server()
    try:
        old, new, devs = setup(srv, 20)
        st = create(srv, {"release": new["id"], "waves": "50%,100%", "soak": "2s",
                          "min_sample": 1})
        rid = st["id"]
        late = fleet(srv, 40, start=100)
        first = [d for d in late if d.check().status == 200]
        check(0 < len(first) < 40, "some late devices fall in the open wave 1 at their first "
              "check: %d of 40" % len(first))
        allv = devs + late
        ok = rounds(allv, lambda: all(d.ver == "2.0.0" for d in allv) and
                    show(srv, rid)["state"] == "completed", timeout=90)
        check(ok, "old and late devices all converge")
        eq(show(srv, rid)["total"]["updated"], 60, "60 devices updated in the rollout")
    finally:
        srv.stop()


def t_restart():
    """A restart mid-rollout loses nothing: state, wave, reason, device states; it goes
    on: wave 1's devices that had not checked in yet get the release from the restarted
    server, wave 2 stays closed. The soak is an hour, so that nothing the clock drives can
    happen between the look before the restart and the one after it, however slow the
    machine is (with a 3 s soak, wave 2 opened meanwhile when the restart took longer)."""
    srv = Server()
    first = srv
    try:
        old, new, devs = setup(srv, 30)
        st = create(srv, {"release": new["id"], "waves": "20%,100%", "soak": "1h",
                          "min_sample": 1})
        rid = st["id"]
        # half of the fleet checks in before the restart, the other half after it
        early, late = devs[:15], devs[15:]
        for d in early:
            d.check()
        n_early = sum(1 for d in early if d.got)
        wave1 = show(srv, rid)["waves_detail"][0]["eligible"]
        check(0 < n_early < wave1, "wave 1 (%d devices) has devices in both halves: %d in the "
              "first" % (wave1, n_early))
        ok = rounds(early, lambda: show(srv, rid)["total"]["updated"] == n_early, timeout=60)
        check(ok, "the %d early wave 1 devices updated before the restart" % n_early)
        before = show(srv, rid)
        srv.stop()
        srv = Server(data=first.data)
        for d in devs:
            d.srv = srv
        after = show(srv, rid)
        for k in ("state", "wave", "waves", "reason", "waves_detail", "total"):
            eq(after.get(k), before.get(k), "after a restart: %s" % k)
        check("rollouts: 1 active, resumed where they stood" in "".join(srv.out),
              "the server says it resumed: %r" % srv.out)
        ok = rounds(devs, lambda: show(srv, rid)["total"]["updated"] == wave1, timeout=60)
        check(ok, "the rest of wave 1 updates after the restart: %r" % show(srv, rid)["total"])
        for d in devs:
            d.check()
        got = [d for d in devs if d.got]
        eq(len(got), wave1, "only wave 1's devices were offered the release")
        check(all(d.ver == "2.0.0" for d in got), "wave 1 runs 2.0.0")
        now = show(srv, rid)
        eq((now["state"], now["wave"]), ("running", 1), "wave 2 waits for wave 1's soak")
    finally:
        srv.stop()
        del first


def t_precedence():
    """pin > active rollout > channel; a channel does not serve what a rollout holds back."""
    srv = Server()
    try:
        old, new, devs = setup(srv, 20)
        newer = srv.upload(NEWER, "3.0.0").json
        st = create(srv, {"release": new["id"], "waves": "50%,100%", "soak": "1h"})
        rid = st["id"]
        answers = {d.mac: d.check() for d in devs}
        inwave = [d for d in devs if answers[d.mac].status == 200]
        outwave = [d for d in devs if answers[d.mac].status != 200]
        eq(len(inwave), 10, "50% of 20 offered")
        check("(rollout %d, wave 1)" % rid in inwave[0].srv.api(
            "GET", "/api/v1/devices/" + inwave[0].mac).json.get("last_result", ""),
            "the offer names the rollout and the wave")
        # a pin wins over the rollout
        pinned = outwave[0]
        eq(srv.api("POST", "/api/v1/devices/%s/pin" % pinned.mac, {"release": newer["id"]})
           .status, 200, "pin")
        r = pinned.check()
        eq(r.headers.get("x-version") if r.status == 200 else None, "3.0.0",
           "pin > rollout: the pinned release is offered")
        # also to a device of the open wave (that the rollout would offer its release)
        eq(srv.api("POST", "/api/v1/devices/%s/pin" % inwave[1].mac, {"release": newer["id"]})
           .status, 200, "pin a device of wave 1")
        r = inwave[1].check()
        eq(r.headers.get("x-version") if r.status == 200 else r.headers.get("x-updraft-reason"),
           "3.0.0", "pin > rollout in the open wave too")
        # the channel set to the rollout's release does not reach devices outside the wave
        eq(srv.api("PUT", "/api/v1/channels/stable", {"release": new["id"]}).status, 200,
           "channel stable -> 2.0.0")
        r = outwave[1].check()
        check(r.status == 304 and "being rolled out (rollout %d)" % rid in
              r.headers.get("x-updraft-reason", ""),
              "rollout > channel: held back from a device outside the open waves: %r" %
              r.headers.get("x-updraft-reason"))
        # a channel release other than the rollout's still reaches them
        eq(srv.api("PUT", "/api/v1/channels/stable", {"release": newer["id"]}).status, 200,
           "channel stable -> 3.0.0")
        r = outwave[1].check()
        eq(r.headers.get("x-version") if r.status == 200 else r.headers.get("x-updraft-reason"),
           "3.0.0", "outside the waves the channel's own release is offered")
        # new devices: those in the wave get the rollout's release, not the channel's newer
        # one; the others the channel's
        got = [Device(srv, 200 + i).check().headers.get("x-version") for i in range(30)]
        n2, n3 = got.count("2.0.0"), got.count("3.0.0")
        check(n2 + n3 == 30 and 5 <= n2 <= 25,
              "new devices: rollout's release in the wave (%d), channel's outside (%d)" % (n2, n3))
    finally:
        srv.stop()


def by_state(srv):
    """updraft_rollouts{state} of /metrics as a dict (every state must be there)."""
    r = srv.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Authorization: Bearer " + t.TOKEN.encode() + b"\r\n\r\n")
    eq(r.status, 200, "GET /metrics")
    got = {}
    for line in r.body.decode().splitlines():
        if line.startswith("updraft_rollouts{"):
            st, n = line[len('updraft_rollouts{state="'):].split('"} ')
            got[st] = int(n)
    check("# TYPE updraft_rollouts gauge" in r.body.decode(), "updraft_rollouts is a gauge")
    eq(sorted(got), sorted(["scheduled", "running", "paused", "completed", "aborted"]),
       "every state has its sample")
    return got


def t_lifecycle():
    """The release an active or paused rollout offers cannot be deleted, retired or replaced:
    refused with the rollout named; once it is aborted (or for a completed one) they work."""
    srv = Server()
    try:
        old, new, devs = setup(srv, 10)
        eq(by_state(srv), {"scheduled": 0, "running": 0, "paused": 0, "completed": 0,
                           "aborted": 0}, "/metrics: no rollouts")
        st = create(srv, {"release": new["id"], "waves": "50%,100%", "soak": "1h"})
        rid = st["id"]
        for state in ("running", "paused"):
            if state == "paused":
                eq(cli(srv, "rollout", "pause", str(rid))[0], 0, "rollout paused")
                # none of its devices had started: a paused rollout offers them nothing
                eq([d.check().status for d in devs], [304] * len(devs),
                   "a paused rollout offers its release to no device that has not started")
            eq(by_state(srv)[state], 1, "/metrics: the rollout is %s" % state)
            rc, out, err = cli(srv, "release", "delete", str(new["id"]))
            check(rc == 1 and "cannot delete release %d: rollout %d (%s) offers" %
                  (new["id"], rid, state) in err and "updraft rollout abort %d" % rid in err,
                  "delete refused while the rollout is %s, naming it: %r" % (state, err))
            for extra in ((), ("--force",)):
                rc, out, err = cli(srv, "release", "retire", str(new["id"]), *extra)
                check(rc == 1 and "cannot retire release %d: rollout %d (%s)" %
                      (new["id"], rid, state) in err,
                      "retire %r refused while %s: %r" % (extra, state, err))
            r = srv.api("DELETE", "/api/v1/releases/%d" % new["id"])
            check(r.status == 409 and (r.json or {}).get("kind") == "in-rollout" and
                  "rollout %d" % rid in r.json.get("error", ""), "API: 409 in-rollout %r" % r.json)
            r = srv.upload(NEWER, "2.0.0", same_version="replace")
            check(r.status == 409 and "cannot replace release %d: rollout %d" % (new["id"], rid)
                  in (r.json or {}).get("error", ""), "upload --replace refused: %r" % r.json)
        rel = srv.api("GET", "/api/v1/releases/%d" % new["id"]).json
        eq(rel.get("retired"), False, "the release is untouched")
        check(show(srv, rid)["state"] == "paused", "the rollout is untouched")
        # the release before it is free: no rollout offers it
        rc, out, err = cli(srv, "release", "retire", str(old["id"]), "--force")
        eq(rc, 0, "a release no rollout offers is retired (%s)" % err)
        eq(cli(srv, "rollout", "abort", str(rid))[0], 0, "rollout aborted")
        eq(by_state(srv), {"scheduled": 0, "running": 0, "paused": 0, "completed": 0,
                           "aborted": 1}, "/metrics: the rollout is aborted")
        rc, out, err = cli(srv, "release", "retire", str(new["id"]))
        eq(rc, 0, "after the abort the release can be retired (%s)" % err)
        rc, out, err = cli(srv, "release", "delete", str(new["id"]))
        check(rc == 1 and "rollout %d (aborted) rolled it out and its history names it" % rid
              in err and "updraft release retire %d" % new["id"] in err,
              "a release in a rollout's history is kept, and the CLI says why: %r" % err)
        eq(srv.api("GET", "/api/v1/releases/%d" % new["id"]).status, 200, "it is still there")
        r = srv.api("POST", "/api/v1/rollouts", {"release": new["id"]})
        eq(r.status, 409, "no rollout of a retired release")
    finally:
        srv.stop()


def local_window(zone, start_off, end_off):
    """A window "HH:MM-HH:MM" on zone's wall clock, its edges start_off and end_off minutes
    from the current minute (Python's zoneinfo computes the wall clock: an implementation
    of its own)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    now = datetime.now(ZoneInfo(zone))
    m = now.hour * 60 + now.minute
    a, b = (m + start_off) % 1440, (m + end_off) % 1440
    return "%02d:%02d-%02d:%02d" % (a // 60, a % 60, b // 60, b % 60)


def next_opening(zone, window):
    """When window next opens on zone's wall clock (UTC seconds), by zoneinfo."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    a, b = window.split("-")
    start, end = int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:])
    t = int(time.time()) // 60 * 60 + 60
    for _ in range(3 * 1440):
        lt = datetime.fromtimestamp(t, ZoneInfo(zone))
        m = lt.hour * 60 + lt.minute
        if (start <= m < end) if start < end else (m >= start or m < end):
            return t
        t += 60
    return None


def iso_seconds(text):
    from datetime import datetime
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def t_window():
    """--window/--tz: waves open and the release is offered only inside the window on the
    zone's wall clock (windows computed around now with Python's zoneinfo: one open, one
    closed, both across midnight in other zones, one that closes during the test);
    --start-at makes it scheduled; the errors in CLI words."""
    # the window that closes during the test ends at the next minute: leave the devices
    # time to check before that
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    srv = Server()
    try:
        old, new, devs = setup(srv, 40)
        groups = {"a": devs[0:10], "b": devs[10:20], "c": devs[20:30], "d": devs[30:40]}
        for tag, ds in groups.items():
            eq(srv.api("POST", "/api/v1/devices/tags", {"macs": [d.mac for d in ds],
                                                         "add": [tag]}).status, 200, "tag " + tag)
        # the channel serves the release too: a device the window holds says why
        eq(srv.api("PUT", "/api/v1/channels/stable", {"release": new["id"]}).status, 200,
           "channel stable -> 2.0.0")
        # a: open now, closes at the end of this minute (Berlin)
        wa = local_window("Europe/Berlin", -3, 1)
        rc, out, err = cli(srv, "rollout", "create", "--release", str(new["id"]), "--target",
                           "tag=a", "--waves", "100%", "--window", wa, "--tz", "Europe/Berlin")
        eq(rc, 0, "create with an open window (%s)" % err)
        check("window:  %s Europe/Berlin, open now, closes at " % wa in out,
              "create shows the window open: %r" % out)
        ra = show(srv, 1)
        eq((ra["window"], ra["tz"], ra["window_open"], ra["wave"]), (wa, "Europe/Berlin", True, 1),
           "open window: wave 1 opened at once")
        # b: closed now, across midnight (Berlin): opens in 10 minutes
        wb = local_window("Europe/Berlin", 10, -3)
        st = create(srv, {"release": new["id"], "target": "tag=b", "waves": "100%",
                          "window": wb, "tz": "Europe/Berlin"})
        rb = st["id"]
        eq((st["window_open"], st["wave"], st["state"]), (False, 0, "running"),
           "closed window: running, no wave open")
        opens = next_opening("Europe/Berlin", wb)
        eq(iso_seconds(st["window_change"]), opens,
           "it opens when zoneinfo says %s does in Berlin" % wb)
        check("wave 1 is due; waits for the delivery window %s Europe/Berlin, which opens at" % wb
              in st["next"], "next says what it waits for: %r" % st["next"])
        # c: open now across midnight, in a zone 3:30 (or 2:30) behind UTC
        wc = local_window("America/St_Johns", -3, -5)
        st = create(srv, {"release": new["id"], "target": "tag=c", "waves": "100%",
                          "window": wc, "tz": "America/St_Johns"})
        eq((st["window_open"], st["wave"]), (True, 1), "St John's window %s is open" % wc)
        # d: scheduled (--start-at), its window open: starts in an hour
        rc, out, err = cli(srv, "rollout", "create", "--release", str(new["id"]), "--target",
                           "tag=d", "--waves", "100%", "--start-at", "+1h", "--window",
                           local_window("UTC", -3, 30))
        eq(rc, 0, "create --start-at +1h (%s)" % err)
        check("state:   scheduled" in out and "window:  " in out and " UTC, open now" in out,
              "scheduled, window in UTC: %r" % out)
        eq(by_state(srv), {"scheduled": 1, "running": 3, "paused": 0, "completed": 0,
                           "aborted": 0}, "/metrics: 1 scheduled, 3 running")
        # the devices: a (first half) and c are offered it; b and d are held, saying why
        for d in groups["a"][:5] + groups["c"]:
            eq(d.check().status, 200, "%s: its window is open" % d.mac)
        for d in groups["b"]:
            r = d.check()
            check(r.status == 304 and "rollout %d delivers only in its window %s Europe/Berlin"
                  % (rb, wb) in r.headers.get("x-updraft-reason", ""),
                  "%s held by the window: %r" % (d.mac, r.headers.get("x-updraft-reason")))
        r = groups["d"][0].check()
        check(r.status == 304 and "has not started" in r.headers.get("x-updraft-reason", ""),
              "a scheduled rollout holds its devices: %r" % r.headers.get("x-updraft-reason"))
        # a's window closes at the minute: the devices not offered it before are held then
        time.sleep(61 - time.time() % 60 + 0.5)
        for d in groups["a"][5:]:
            r = d.check()
            check(r.status == 304 and "delivers only in its window %s" % wa in
                  r.headers.get("x-updraft-reason", ""),
                  "%s: a's window closed: %r" % (d.mac, r.headers.get("x-updraft-reason")))
        st = show(srv, 1)
        eq(st["window_open"], False, "a's window is closed now")
        # the devices offered it in time install it: in flight, they finish
        rounds(groups["a"][:5], lambda: all(d.ver == "2.0.0" for d in groups["a"][:5]), timeout=10)
        eq(show(srv, 1)["total"]["updated"], 5, "the 5 offered before the window closed updated")
        # errors, in CLI words and in the API's
        bad = [(("--window", "02:00"), "--window: '02:00' is not a window: give the hours as"),
               (("--window", "25:00-01:00"), "--window: '25:00-01:00' is not a window: hours"),
               (("--window", "02:00-05:00", "--tz", "Europe/Berln"),
                "--tz: there is no time zone 'Europe/Berln' (in /usr/share/zoneinfo): did you "
                "mean Europe/Berlin?"),
               (("--window", "02:00-05:00", "--tz", "../etc/passwd"),
                "--tz: '../etc/passwd' is not a time zone name"),
               (("--tz", "Europe/Berlin"), "--tz is the time zone of the delivery window: give "
                                           "--window too")]
        for args, want in bad:
            rc, out, err = cli(srv, "rollout", "plan", "--release", str(new["id"]), *args)
            check(rc == 2 and want in err, "plan %r: %r in %r" % (args, want, err))
        for body, want in (({"window": "02:00-05:00", "tz": "Mars/Base"},
                            "\"tz\": there is no time zone 'Mars/Base'"),
                           ({"tz": "UTC"}, "\"tz\" is the time zone of the delivery window"),
                           ({"window": "3-4"}, "\"window\": '3-4' is not a window")):
            body.update(release=new["id"], target="tag=zz")
            r = srv.api("POST", "/api/v1/rollouts/plan", body)
            check(r.status == 400 and want in (r.json or {}).get("error", ""),
                  "API %r: 400 %r: %r" % (body, want, r.json))
    finally:
        srv.stop()


def sim(srv, *args):
    """updraft sim: the real device engine on simulated ESP8266 flash, polling srv."""
    p = subprocess.run([t.BIN, "sim", "--server", "http://127.0.0.1:%d/update" % srv.port,
                        "--seed", "3", "--quiet", "--json"] + list(args), capture_output=True,
                       text=True, timeout=300)
    lines = p.stdout.strip().splitlines()
    return p.returncode, json.loads(lines[-1]) if lines else {}, p.stderr


def t_sim():
    """With `updraft sim` (the real update engine): a good release goes 10% -> 100% and the
    fleet converges; a release that the Updater refuses on half the devices pauses the
    rollout in wave 1, reaching no more than wave 1."""
    for bad in (False, True):
        srv = Server()
        try:
            sim(srv, "--devices", "60", "--interval", "1s", "--duration", "2s")
            eq(srv.api("GET", "/api/v1/devices?limit=1000").status, 200, "devices listed")
            rel = srv.upload(NEW, "2.0.0").json
            st = create(srv, {"release": rel["id"], "waves": "10%,100%", "soak": "3s",
                              "min_sample": 5})
            rid = st.get("id")
            wave1 = st["waves_detail"][0]["eligible"]
            eq(st["total"]["eligible"], 60, "the 60 simulated devices are the target")
            args = ["--devices", "60", "--interval", "1s", "--duration", "25s"]
            if bad:
                args += ["--bad-release", "2.0.0:50%:refuse"]
            rc, out, err = sim(srv, *args)
            st = show(srv, rid)
            reached = st["total"]["eligible"] - st["total"]["pending"]
            if bad:
                eq(st["state"], "paused", "a bad release pauses the rollout: %r" % st["reason"])
                eq(st["wave"], 1, "in wave 1")
                check(reached <= wave1, "reached %d, wave 1 is %d" % (reached, wave1))
                check(st["total"]["failed"] >= 1, "failures counted: %r" % st["total"])
            else:
                eq(st["state"], "completed", "a good release completes: %r" % st["reason"])
                eq(st["total"]["updated"], 60, "every simulated device runs it")
                eq(rc, 0, "updraft sim: every device converged (%s)" % err[-300:])
        finally:
            srv.stop()


def t_plan():
    """The plan (the dashboard's live count, `updraft rollout plan`) names the devices the
    device list names for the same filter, whatever the filter, and its sample of each
    wave is the first devices of the list (newest seen first) in that wave, the same on
    every call: it reads the registry in one pass, in no particular order, with only
    the columns matching needs (store op device_scan)."""
    import urllib.parse
    srv = Server()
    try:
        srv.upload(OLD, "1.0.0", "stable")
        versions = ["0.9.0", "1.0.0", "1.1.0"]
        devs = []
        for i in range(36):
            d = Device(srv, 0x300 + i, ver=versions[i % 3])
            path = "/update/beta" if i % 5 == 0 else "/update"
            r = srv.raw(esp8266_request(srv.port, path=path, mac=d.mac, md5sum=md5(OLD),
                                        size=len(OLD), version=d.ver))
            check(r.status in (200, 304), "device %s checks in: %d" % (d.mac, r.status))
            devs.append(d)
            time.sleep(0.002)  # distinct last-seen times, so the list's order is the clock's
        registered(srv, 36)
        tags = {0: ["lab"], 1: ["kitchen"], 2: ["lab", "kitchen"]}
        for i, d in enumerate(devs):
            if i % 4 in tags:
                r = srv.api("POST", "/api/v1/devices/%s/tags" % d.mac, {"add": tags[i % 4]})
                eq(r.status, 200, "tags of %s" % d.mac)
        rel = srv.upload(NEW, "2.0.0").json
        eq(srv.api("POST", "/api/v1/devices/%s/pin" % devs[7].mac,
                   {"release": rel["id"]}).status, 200, "a pin")
        filters = ["all", "version=1.0.0", "tag=lab", "version<1.1.0 tag=kitchen",
                   "tag!=lab,kitchen", "channel=beta", "pinned=no version>=1.0.0",
                   "mac=%s,%s" % (devs[3].mac, devs[4].mac), "seen<1h tag=lab", "tag=nothing"]
        for f in filters:
            q = "" if f == "all" else "&filter=" + urllib.parse.quote(f)
            listed = srv.api("GET", "/api/v1/devices?limit=1000" + q).json
            macs = [d["mac"] for d in listed["devices"]]
            eq(listed["total"], len(macs), "the list of %r is whole" % f)
            for waves in ("100%", "10%,50%,100%"):
                body = {"release": rel["id"], "target": f, "waves": waves}
                plan = srv.api("POST", "/api/v1/rollouts/plan", body)
                eq(plan.status, 200, "plan %r %s: %r" % (f, waves, plan.json))
                plan = plan.json
                eq(plan["total"]["eligible"], len(macs), "plan %r %s: the list's count" % (f, waves))
                eq(sum(w["eligible"] for w in plan["waves_detail"]), len(macs),
                   "plan %r %s: the waves hold every device once" % (f, waves))
                seen = []
                for w in plan["waves_detail"]:
                    sample = w["sample"]
                    eq(len(sample), min(5, w["eligible"]), "plan %r: a sample of %d" % (f, len(sample)))
                    check(all(m in macs for m in sample), "plan %r: sample %r in the list" % (f, sample))
                    eq(sample, sorted(sample, key=macs.index),
                       "plan %r %s: the sample in the list's order" % (f, waves))
                    seen += sample
                eq(len(seen), len(set(seen)), "plan %r %s: no device in two waves" % (f, waves))
                if waves == "100%":
                    eq(plan["waves_detail"][0]["sample"], macs[:5],
                       "plan %r: one wave's sample is the first 5 of the list" % f)
                again = srv.api("POST", "/api/v1/rollouts/plan", body).json
                eq(again["waves_detail"], plan["waves_detail"], "plan %r %s: the same twice" % (f, waves))
        # a running rollout: a second one over some of its devices is refused, naming the
        # first of them in the list's order
        st = create(srv, {"release": rel["id"], "target": "tag=lab"})
        lab = [d["mac"] for d in srv.api("GET", "/api/v1/devices?limit=1000&filter=" +
                                         urllib.parse.quote("tag=lab version=1.0.0")).json["devices"]]
        r = srv.api("POST", "/api/v1/rollouts/plan", {"release": rel["id"], "target": "version=1.0.0"})
        eq(r.status, 409, "an overlapping plan: %r" % r.json)
        want = "rollout %d (release %d, running, target 'tag=lab') already covers %d of the" % (
            st["id"], rel["id"], len(lab))
        check(want in r.json.get("error", "") and "(%s, ...)" % lab[0] in r.json.get("error", ""),
              "the overlap says %r and names %s: %r" % (want, lab[0], r.json))
        r = srv.api("POST", "/api/v1/rollouts/plan", {"release": rel["id"], "target": "tag!=lab"})
        eq(r.status, 200, "a plan beside it: %r" % r.json)
    finally:
        srv.stop()


class Reporting(Device):
    """A device with what it does with the release it downloads, as its outcome report
    (docs/protocol.md) says: "report:N" the Updater refused it with error N, "rollback" its
    boot loader went back to the old image (both keep the old image and say so at the next
    check); "fail" keeps the old image and says nothing (the server infers the failure);
    "silent" never checks in again; "ok" installs it."""

    def __init__(self, srv, n, fate):
        Device.__init__(self, srv, n, fate="silent" if fate == "silent" else "ok")
        self.how, self.report = fate, None

    def check(self):
        if self.gone:
            return None
        req = esp8266_request(self.srv.port, mac=self.mac, md5sum=md5(self.img),
                              size=len(self.img), version=self.ver)
        if self.report:
            req, self.report = with_report(req, self.report), None
        r = self.srv.raw(req)
        if r.status != 200:
            return r
        ver = r.headers.get("x-version")
        self.got.append(ver)
        if self.how == "ok":
            self.img, self.ver = r.body, ver
        elif self.how == "silent":
            self.gone = True
        elif self.how.startswith("report:"):
            self.report = "v=1;result=%s;md5=%s;version=%s;rollback=0" % (
                self.how[7:], md5(r.body), ver)
        elif self.how == "rollback":
            self.report = "v=1;result=0;md5=%s;version=%s;rollback=1" % (md5(r.body), ver)
        return r


def t_reasons():
    """A rollout's failure reasons per wave (GET /api/v1/rollouts/<id> "failures",
    src/server/roreasons.c): every failed, rolled-back and silent device of each wave
    counted under the sentence recorded for it, the device's own report before the
    server's inference and only of this rollout's release, most devices first."""
    srv = Server()
    try:
        srv.upload(OLD, "1.0.0", "stable")
        other = srv.upload(NEWER, "3.0.0").json
        fates = []
        for i in range(40):
            fates.append("report:12" if i % 4 == 1 else "report:7" if i % 8 == 2 else
                         "fail" if i % 8 == 6 else "rollback" if i % 16 == 3 else
                         "silent" if i % 16 == 11 else "ok")
        devs = [Reporting(srv, i, f) for i, f in enumerate(fates)]
        for d in devs:
            eq(d.check().status, 304, "device runs the channel's release")
            if d.how == "fail":  # an earlier failure of another release, reported
                r = srv.raw(with_report(
                    esp8266_request(srv.port, mac=d.mac, md5sum=md5(d.img), size=len(d.img),
                                    version=d.ver),
                    "v=1;result=9;md5=%s;version=3.0.0;rollback=0" % md5(NEWER)))
                check(r.status in (200, 304), "a report of release %d" % other["id"])
        registered(srv, 40)
        new = srv.upload(NEW, "2.0.0").json
        st = create(srv, {"release": new["id"], "waves": "25%,100%", "soak": "1s",
                          "min_sample": 1, "max_failures": "90%", "silent_after": "2s"})
        rid = st["id"]
        bad = sum(1 for f in fates if f != "ok")

        def settled():
            s = show(srv, rid)
            tot = s.get("total", {})
            return s.get("wave") == 2 and \
                tot.get("failed", 0) + tot.get("rolled_back", 0) + tot.get("silent", 0) == bad
        ok = rounds(devs, settled, timeout=90, pause=0.3)
        check(ok, "every device's outcome is known: %r" % show(srv, rid).get("total"))
        st = show(srv, rid)

        def said(mac):
            """The recorded sentence: the device's own report of release 2, else the
            server's inference (docs/api.md)."""
            evs = [e for e in events(srv, mac=mac) if e.get("release") == new["id"]]
            for kinds in (("report-failed", "report-rolled-back"), ("failed",)):
                for e in evs:  # newest first
                    if e["kind"] in kinds:
                        return e["detail"]
            return None
        want = {}  # (state, reason) -> devices, over every wave
        for d in devs:
            if d.how == "silent":
                key = ("silent", None)
            elif d.how != "ok":
                key = ("rolled-back" if d.how == "rollback" else "failed", said(d.mac))
            else:
                continue
            want[key] = want.get(key, 0) + 1
        got = {}
        waves_with_failures, mixed = 0, False
        for w in st["waves_detail"]:
            fails = w.get("failures", [])
            for state, field in (("failed", "failed"), ("rolled-back", "rolled_back"),
                                 ("silent", "silent")):
                eq(sum(f["count"] for f in fails if f["state"] == state), w[field],
                   "wave %d: the %s devices are all counted under a reason" % (w["wave"], state))
            counts = [f["count"] for f in fails]
            eq(counts, sorted(counts, reverse=True), "wave %d: most devices first" % w["wave"])
            waves_with_failures += bool(fails)
            mixed |= len(set(counts)) > 1
            for f in fails:
                check(0 < len(f["macs"]) <= min(3, f["count"]), "a reason with MACs: %r" % f)
                if f["state"] == "silent":
                    check(f["reason"].startswith("downloaded release %d and not seen for 2 "
                                                 "seconds or more" % new["id"]),
                          "silent: %r" % f["reason"])
                    key = ("silent", None)
                else:
                    for m in f["macs"]:
                        eq(f["reason"], said(m), "%s: the sentence recorded for it" % m)
                    key = (f["state"], f["reason"])
                got[key] = got.get(key, 0) + f["count"]
        for w in st["waves_detail"]:
            print("wave %d failures: %s" % (w["wave"], json.dumps(
                [(f["state"], f["count"], f["reason"][:60]) for f in w.get("failures", [])])))
        eq(got, want, "every failed device under its own reason")
        check(waves_with_failures == 2 and mixed,
              "both waves have failures, of different counts (what this test needs): %r" %
              [w.get("failures") for w in st["waves_detail"]])
        reasons = {k[1] for k in want if k[0] == "failed"}
        check(len(reasons) >= 3, "reports 12 and 7 and the inference: %r" % reasons)
        check(any(k[0] == "rolled-back" for k in got), "rolled-back devices: %r" % got)
        check(not any("3.0.0" in (r or "") for r in reasons),
              "no reason of another release: %r" % reasons)
    finally:
        srv.stop()


GROUPS = {"plan": t_plan, "admin": t_admin, "converge": t_converge, "badpause": t_badpause,
          "rollback": t_rollback, "late": t_late, "restart": t_restart,
          "precedence": t_precedence, "sim": t_sim, "lifecycle": t_lifecycle,
          "window": t_window, "reasons": t_reasons}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
