#!/usr/bin/env python3
"""Bad releases in `updraft sim` (issue 9, "The simulator proves it"): against the real
`updraft serve` on 127.0.0.1, devices that poll (--interval, --duration) and a release
that is bad on a share of them (--bad-release VERSION:FAILRATE[:MODE]):

- loop: exactly that share installs it and never checks in again; the others run it; the
  server's registry shows the silent ones with the offer open, downloaded, not running it,
  and nothing heard from them after the download;
- refuse: the device's Updater rejects it (ESP8266 error 12, ESP32 error 9), the device
  goes on running its old image and says so (outcome report): the server records the
  failure (inferred and reported);
- rollback (ESP32): it boots once, never confirms itself, the boot loader goes back to
  the old slot, and the device checks in running the old image and reports the rollback:
  the server records it; on ESP8266 the mode is refused with the reason;
- devices with other MACs (--mac-start) join a server that has seen the first ones;
- the devices are chosen from the seed: the same seed chooses the same ones, another seed
  others; a share is exact (rounded); the per-release tally adds up; bad arguments get
  clear errors (exit 2).

usage: test_sim_badrelease.py UPDRAFT_BINARY MKIMAGE_BINARY
Python 3 standard library only."""
import json
import os
import subprocess
import sys
import tempfile
import time

from simtest import BIN, FAILS, MKIMAGE, TOKEN, Server, check, eq  # noqa: F401


def sim(srv, *args, path="/update"):
    cmd = [BIN, "sim", "--server", srv.url + path, "--json", "--quiet"] + list(args)
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
    out = p.stdout.decode().strip().splitlines()
    print("$ %s\n  (%.1f s, exit %d) %s %s" % (" ".join(cmd[1:]), time.time() - t, p.returncode,
                                              out[-1] if out else "", p.stderr.decode()[-300:]),
          flush=True)
    try:
        return p.returncode, json.loads(out[-1])
    except (ValueError, IndexError):
        check(False, "sim printed no JSON: %r" % p.stderr[-300:])
        return p.returncode, {}


def release_row(res, version):
    rows = [r for r in res.get("releases", []) if r.get("version") == version]
    check(len(rows) == 1, "the tally has release %s once: %r" % (version, res.get("releases")))
    return rows[0] if rows else {}


def devices(srv):
    st, js = srv.api("GET", "/api/v1/devices?tool=sim&limit=100000")
    eq(st, 200, "device list")
    return {d["mac"]: d for d in js["devices"]}


def history(srv, mac):
    st, js = srv.api("GET", "/api/v1/devices/" + mac + "?limit=1000")
    return js.get("history", [])


def fresh(tmp, name, img, version="2.0.0"):
    srv = Server(tmp, name)
    st, rel = srv.api("POST", "/api/v1/releases?version=%s&channel=stable" % version,
                      open(img, "rb").read())
    eq(st, 201, "%s: upload %s" % (name, version))
    return srv, rel["id"]


def t_loop(tmp, img8):
    """ESP8266, 40 devices, 2.0.0 bad on 50% in mode loop."""
    srv, rid = fresh(tmp, "loop", img8)
    try:
        rc, res = sim(srv, "--devices", "40", "--interval", "300ms", "--duration", "4s",
                      "--bad-release", "2.0.0:0.5:loop", "--seed", "5")
        eq(rc, 0, "loop: exit 0 (what a bad release does is what was asked for)")
        eq(res.get("looping"), 20, "loop: exactly half the devices loop")
        eq(res.get("updated"), 20, "loop: the other half run it")
        eq(res.get("failed_total"), 0, "loop: nothing failed")
        row = release_row(res, "2.0.0")
        eq(row.get("bad"), {"share": 0.5, "mode": "loop", "devices": 20}, "loop: the bad release")
        eq((row.get("offered"), row.get("updated"), row.get("looping"), row.get("refused"),
            row.get("rolled_back")), (40, 20, 20, 0, 0), "loop: per-release tally")
        # 40 first checks, 20 after the install: more means the devices went on polling
        check(res.get("checks", 0) > 40 + 20,
              "loop: the updated devices kept polling (%r checks)" % res.get("checks"))
        devs = devices(srv)
        eq(len(devs), 40, "loop: 40 devices in the registry")
        running = [m for m, d in devs.items() if d["running_release"] == rid]
        silent = [m for m, d in devs.items() if d["running_release"] != rid]
        eq(len(running), 20, "registry: 20 devices run release 2.0.0")
        eq(len(silent), 20, "registry: 20 devices do not")
        for m in silent:
            d = devs[m]
            eq(d["offered_release"], rid, "%s (silent): the offer is still open" % m)
            check(d["offer_downloads"] >= 1, "%s (silent): it downloaded the release" % m)
            h = history(srv, m)
            check(h and h[0]["kind"] == "download-completed",
                  "%s (silent): nothing heard after the download: %r" % (m, h[:2]))
        for m in running[:5]:
            kinds = [e["kind"] for e in history(srv, m)]
            check("updated" in kinds, "%s: updated event: %r" % (m, kinds[:6]))
        # devices the server has not seen yet join: another range of MACs
        rc, res = sim(srv, "--devices", "10", "--mac-start", "41", "--interval", "200ms",
                      "--bad-release", "2.0.0:0.5:loop", "--seed", "5")
        eq((res.get("looping"), res.get("updated")), (5, 5), "late devices: 5 loop, 5 run it")
        devs = devices(srv)
        eq(len(devs), 50, "late devices: 50 devices in the registry")
        check("5C:CF:7F:00:00:29" in devs and "5C:CF:7F:00:00:32" in devs,
              "late devices: devices 41 to 50 (0x29..0x32): %r" % sorted(devs)[-3:])
        # the same seed chooses the same devices: a second server, a second run
        srv2, rid2 = fresh(tmp, "loop2", img8)
        try:
            rc, res2 = sim(srv2, "--devices", "40", "--interval", "300ms",
                           "--bad-release", "2.0.0:0.5:loop", "--seed", "5")
            devs2 = devices(srv2)
            eq(sorted(m for m, d in devs2.items() if d["running_release"] != rid2), sorted(silent),
               "the same seed: the same devices loop")
        finally:
            srv2.stop()
        srv3, rid3 = fresh(tmp, "loop3", img8)
        try:
            rc, res3 = sim(srv3, "--devices", "40", "--interval", "300ms",
                           "--bad-release", "2.0.0:0.5:loop", "--seed", "6")
            eq(res3.get("looping"), 20, "another seed: still exactly half")
            devs3 = devices(srv3)
            other = sorted(m for m, d in devs3.items() if d["running_release"] != rid3)
            check(other != sorted(silent), "another seed: other devices loop")
        finally:
            srv3.stop()
    finally:
        srv.stop()


def t_refuse(tmp, img8, img32):
    """refuse: the Updater's error at the end, the old image runs, the server records it."""
    for plat, img, code in (("esp8266", img8, 12), ("esp32", img32, 9)):
        srv, rid = fresh(tmp, "refuse-" + plat, img)
        try:
            rc, res = sim(srv, "--devices", "25", "--platform", plat, "--interval", "300ms",
                          "--duration", "4s", "--bad-release", "2.0.0:30%:refuse",
                          "--report", "--seed", "3")
            eq(rc, 0, "refuse %s: exit 0" % plat)
            n = 8  # round(0.3 * 25)
            eq(res.get("device_refused"), n, "refuse %s: 30%% of 25 devices refuse it" % plat)
            eq(res.get("updated"), 25 - n, "refuse %s: the others run it" % plat)
            eq(res.get("looping"), 0, "refuse %s: none loops" % plat)
            check(res.get("errors", {}).get(str(code), 0) >= n,
                  "refuse %s: error %d on each refusal: %r" % (plat, code, res.get("errors")))
            row = release_row(res, "2.0.0")
            eq((row.get("offered"), row.get("updated"), row.get("refused")), (25, 25 - n, n),
               "refuse %s: per-release tally" % plat)
            devs = devices(srv)
            refusing = [m for m, d in devs.items() if d["running_release"] != rid]
            eq(len(refusing), n, "refuse %s: registry: %d devices do not run it" % (plat, n))
            for m in refusing:
                h = history(srv, m)
                kinds = [e["kind"] for e in h]
                check("failed" in kinds, "%s: the server inferred the failure: %r" % (m, kinds[:8]))
                rep = [e for e in h if e["kind"] == "report-failed"]
                check(rep and ("failed with %d" % code) in rep[0]["detail"],
                      "%s: the device reported error %d: %r" % (m, code, rep[:1]))
                eq(devs[m]["version"], "1.0.0", "%s: still runs 1.0.0" % m)
                # a tool's device: the failure is recorded, the release not held back from it
                check("not-held" in kinds, "%s: not-held (a sim device): %r" % (m, kinds[:8]))
        finally:
            srv.stop()


def t_rollback(tmp, img8, img32):
    """ESP32 rollback: the old slot runs and checks in; reported and inferred."""
    srv, rid = fresh(tmp, "rollback", img32)
    try:
        rc, res = sim(srv, "--devices", "20", "--platform", "esp32", "--interval", "300ms",
                      "--duration", "4s", "--bad-release", "2.0.0:0.25:rollback", "--report",
                      "--seed", "9")
        eq(rc, 0, "rollback: exit 0")
        eq(res.get("rolled_back"), 5, "rollback: 25% of 20 devices rolled back")
        eq(res.get("updated"), 15, "rollback: the others run it")
        row = release_row(res, "2.0.0")
        eq((row.get("offered"), row.get("updated"), row.get("rolled_back"), row.get("looping")),
           (20, 15, 5, 0), "rollback: per-release tally")
        check(res.get("installs", 0) > 20, "rollback: the rolled-back devices are offered it again "
              "(a sim device is never held back) and install it again")
        devs = devices(srv)
        back = [m for m, d in devs.items() if d["running_release"] != rid]
        eq(len(back), 5, "rollback: registry: 5 devices do not run it")
        for m in back:
            kinds = [e["kind"] for e in history(srv, m)]
            check("report-rolled-back" in kinds,
                  "%s: the device reported the rollback: %r" % (m, kinds[:8]))
            check("failed" in kinds, "%s: the server saw the old image again: %r" % (m, kinds[:8]))
            eq(devs[m]["version"], "1.0.0", "%s: checks in running 1.0.0" % m)
        # loop on ESP32: the image confirms itself, then crashes for good
        rc, res = sim(srv, "--devices", "12", "--platform", "esp32", "--bad-release",
                      "2.0.0:0.5:loop", "--seed", "2", "--retry-ms", "20")
        eq(rc, 0, "esp32 loop, without --interval: exit 0")
        eq((res.get("looping"), res.get("updated"), res.get("rolled_back")), (6, 6, 0),
           "esp32 loop: 6 loop, 6 run it, none rolls back (the image confirmed itself)")
    finally:
        srv.stop()
    # ESP8266 cannot roll back: refused with the reason
    p = subprocess.run([BIN, "sim", "--server", "http://127.0.0.1:9/update", "--bad-release",
                        "2.0.0:0.5:rollback"], capture_output=True, timeout=30)
    eq(p.returncode, 2, "rollback on esp8266: exit 2")
    check(b"cannot roll back" in p.stderr and b"eboot" in p.stderr and b"--platform esp32" in
          p.stderr, "rollback on esp8266: says why and what to do: %r" % p.stderr)


def t_converge(tmp, img8):
    """Without --interval (the old behaviour) and with --interval but no --duration (until
    every device settled); the same seed gives the same JSON."""
    srv, rid = fresh(tmp, "converge", img8)
    try:
        runs = []
        for _ in range(2):
            rc, res = sim(srv, "--devices", "30", "--bad-release", "2.0.0:0.3:loop",
                          "--bad-release", "9.9.9:1:refuse", "--seed", "4", "--retry-ms", "20")
            eq(rc, 0, "converge: exit 0")
            runs.append(res)
        eq((runs[0].get("looping"), runs[0].get("updated")), (9, 21), "converge: 9 loop, 21 run it")
        volatile = ("seconds", "peak_rss_kb", "slowest_turn_ms")  # the machine's, not the seed's
        strip = lambda r: {k: v for k, v in r.items() if k not in volatile}
        eq(strip(runs[0]), strip(runs[1]), "converge: the same seed, the same summary")
        eq([r["version"] for r in runs[0].get("releases", [])], ["2.0.0", "9.9.9"],
           "converge: the bad releases are tallied, offered or not")
        nine = release_row(runs[0], "9.9.9")
        eq((nine.get("offered"), nine.get("bad", {}).get("devices")), (0, 30),
           "converge: 9.9.9 is bad on every device and never offered")
        t = time.time()
        rc, res = sim(srv, "--devices", "30", "--interval", "200ms", "--bad-release",
                      "2.0.0:0.3:loop", "--seed", "4")
        eq(rc, 0, "until settled: exit 0")
        eq((res.get("looping"), res.get("updated")), (9, 21), "until settled: 9 loop, 21 run it")
        check(time.time() - t < 20, "until settled: ends once every device settled")
    finally:
        srv.stop()


def t_args():
    url = "http://127.0.0.1:9/update"
    for args, words in (
            (["--bad-release", "2.0.0"], "VERSION:FAILRATE[:MODE]"),
            (["--bad-release", "2.0.0:1.5"], "from 0 to 1"),
            (["--bad-release", "2.0.0:half:loop"], "is not a share"),
            (["--bad-release", "2.0.0:0.5:explode"], "unknown mode 'explode'"),
            (["--bad-release", "2.0.0:0.5", "--bad-release", "2.0.0:0.1:refuse"], "already"),
            (["--duration", "10s"], "--duration needs --interval"),
            (["--interval", "soon"], "a duration like 2s"),
            (["--interval", "2s", "--jitter", "2"], "--jitter 2"),
            (["--mac-start", "16777215", "--devices", "2"], "past device number 16777215"),
    ):
        p = subprocess.run([BIN, "sim", "--server", url] + args, capture_output=True, timeout=30)
        eq(p.returncode, 2, "%s: exit 2" % " ".join(args))
        check(words.encode() in p.stderr, "%s: says %r: %r" % (" ".join(args), words, p.stderr))
    p = subprocess.run([BIN, "sim", "--help"], capture_output=True, timeout=30)
    for opt in (b"--bad-release", b"--interval", b"--duration", b"--jitter", b"--report",
                b"--mac-start"):
        check(opt in p.stdout, "--help names %r" % opt)


def main():
    with tempfile.TemporaryDirectory(prefix="updraft-simbad-") as tmp:
        img8, img32 = os.path.join(tmp, "app.bin"), os.path.join(tmp, "app32.bin")
        subprocess.run([MKIMAGE, "esp8266-app", img8, "150000", "7"], check=True)
        subprocess.run([MKIMAGE, "esp32-app", img32, "150000", "9", "2.0.0"], check=True)
        t_args()
        t_loop(tmp, img8)
        t_refuse(tmp, img8, img32)
        t_rollback(tmp, img8, img32)
        t_converge(tmp, img8)
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
