#!/usr/bin/env python3
"""Fleet test: the real `updraft serve` on 127.0.0.1 with a temp data dir, a release
uploaded through the admin API (synthetic images from mkimage), and `updraft sim` with a
few hundred devices and faults (dropped links, truncated responses, bit flips, weak flash writes, power
cuts) against it. The fleet must converge: every device updated, 0 bricked by the
client, the JSON summary complete and consistent, the server's registry showing the
devices on the new version. Also: power cuts during eboot's copy brick devices and are
counted as boot loader bricks; the same seed gives the same outcome.

usage: test_sim_fleet.py UPDRAFT_BINARY MKIMAGE_BINARY
Python 3 standard library only."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from simtest import BIN, FAILS, MKIMAGE, TOKEN, Server, check, eq  # noqa: F401


def sim(srv, *args, path="/update"):
    cmd = [BIN, "sim", "--server", srv.url + path, "--json", "--quiet",
           "--retry-ms", "20"] + list(args)
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
    out = p.stdout.decode().strip().splitlines()
    print("$ %s\n  (%.1f s, exit %d) %s" % (" ".join(cmd[1:]), time.time() - t, p.returncode,
                                           out[-1] if out else p.stderr.decode()), flush=True)
    check(out, "sim printed nothing: " + p.stderr.decode())
    res = json.loads(out[-1]) if out else {}
    return p.returncode, res


def consistent(res, n, what):
    """The JSON summary: every field, and the counts add up."""
    for k in ("devices", "updated", "current", "failed", "bricked_client",
              "bricked_bootloader", "seconds", "bytes", "retries", "checks", "errors"):
        check(k in res, "%s: JSON has %s" % (what, k))
    if not all(k in res for k in ("devices", "updated", "current", "failed")):
        return
    eq(res["devices"], n, what + ": devices")
    check(isinstance(res["failed"], dict), what + ": failed is an object")
    nfailed = sum(res["failed"].values())
    eq(res["updated"] + res["current"] + nfailed + res["bricked_client"] +
       res["bricked_bootloader"], n, what + ": every device counted once")
    eq(nfailed, res.get("failed_total"), what + ": failed_total")
    check(res["seconds"] > 0, what + ": seconds > 0")
    check(res["checks"] >= res["updated"] * 2, what + ": a check before and after each update")


def main():
    with tempfile.TemporaryDirectory(prefix="updraft-sim-") as tmp:
        img8, img32 = os.path.join(tmp, "app.bin"), os.path.join(tmp, "app32.bin")
        subprocess.run([MKIMAGE, "esp8266-app", img8, "150000", "7"], check=True)
        subprocess.run([MKIMAGE, "esp32-app", img32, "150000", "9", "2.0.0"], check=True)
        # the faults here (weak flash writes, cut links) make devices fail an attempt now
        # and then: let them retry at once up to 8 times instead of holding the release
        # back for minutes (the default back-off)
        srv = Server(tmp, "data", "--failure-backoff", "0,0,0,0,0,0,0,0")
        try:
            st, r8 = srv.api("POST", "/api/v1/releases?version=2.0.0&channel=stable",
                             open(img8, "rb").read())
            eq(st, 201, "upload esp8266 release")
            st, r32 = srv.api("POST", "/api/v1/releases?version=2.0.0&channel=stable",
                              open(img32, "rb").read())
            eq(st, 201, "upload esp32 release")

            # 1. ESP8266 fleet with every kind of fault during the client's work
            n = 300
            rc, res = sim(srv, "--devices", str(n), "--parallel", "64", "--seed", "11",
                          "--faults", "drop=0.05,truncate=0.05,corrupt=0.05,powercut=0.1")
            consistent(res, n, "esp8266 fleet")
            eq(rc, 0, "esp8266 fleet: exit status")
            eq(res.get("updated"), n, "esp8266 fleet: all updated")
            eq(res.get("failed"), {}, "esp8266 fleet: none failed")
            eq(res.get("bricked_client"), 0, "esp8266 fleet: bricked by the client")
            eq(res.get("bricked_bootloader"), 0, "esp8266 fleet: no boot loader cuts asked")
            check(res.get("power_cuts_client", 0) > 0, "esp8266 fleet: power cuts happened")
            check(res.get("retries", 0) > 0, "esp8266 fleet: faults caused retries")
            check(res.get("bytes", 0) >= n * os.path.getsize(img8), "esp8266 fleet: bytes")
            st, devs = srv.api("GET", "/api/v1/devices?platform=esp8266&limit=5000")
            devs = devs["devices"]
            eq(len(devs), n, "registry: esp8266 devices")
            eq(sum(1 for d in devs if d["version"] == "2.0.0"), n, "registry: on version 2.0.0")
            eq(sum(1 for d in devs if d["sketch_md5"] == r8["md5"]), n,
               "registry: running the release's MD5")
            eq(sum(1 for d in devs if d["running_release"] == r8["id"]), n,
               "registry: running_release")

            # 2. ESP32 fleet (two slots, otadata, rollback-capable), cuts in the boot
            #    loader's otadata update too: never a brick
            n32 = 100
            rc, res = sim(srv, "--devices", str(n32), "--platform", "esp32", "--seed", "12",
                          "--faults", "drop=0.05,truncate=0.05,corrupt=0.05,powercut=0.1,"
                          "bootcut=0.3")
            consistent(res, n32, "esp32 fleet")
            eq(rc, 0, "esp32 fleet: exit status")
            eq(res.get("updated"), n32, "esp32 fleet: all updated")
            eq(res.get("bricked_client", -1) + res.get("bricked_bootloader", -1), 0,
               "esp32 fleet: bricked")
            st, devs = srv.api("GET", "/api/v1/devices?platform=esp32&limit=5000")
            eq(sum(1 for d in devs["devices"] if d["version"] == "2.0.0"), n32,
               "registry: esp32 devices on 2.0.0")

            # 2b. An ESP32 release padded to a sector with 0xFF (issue 15): a device that
            #     installed it reports the MD5 of the image as esp_image_verify measures it
            #     and the appended digest as its SHA-256, not the file's hashes; the server
            #     must recognise both, or it offers the release again after every reboot
            #     (each device would run out of checks and count as failed)
            padded = open(img32, "rb").read() + b"\xff" * 4096
            st, rp = srv.api("POST", "/api/v1/releases?version=2.0.1&channel=padded", padded)
            eq(st, 201, "upload the padded esp32 release")
            npd = 40
            rc, res = sim(srv, "--devices", str(npd), "--platform", "esp32", "--seed", "13",
                          "--max-checks", "6", path="/update/padded")
            consistent(res, npd, "padded esp32 fleet")
            eq(rc, 0, "padded esp32 fleet: exit status")
            eq(res.get("updated"), npd, "padded esp32 fleet: all updated, none looping")
            eq(res.get("failed"), {}, "padded esp32 fleet: none failed")
            check(res.get("checks", 0) <= npd * 3,
                  "padded esp32 fleet: one download each (checks %r)" % res.get("checks"))
            st, devs = srv.api("GET", "/api/v1/devices?platform=esp32&version=2.0.1&limit=5000")
            eq(sum(1 for d in devs["devices"] if d["running_release"] == rp["id"]), npd,
               "registry: the padded release is what they run")
            # the same with 2018 cores, which send only the sha256: the appended digest
            rc, res = sim(srv, "--devices", str(npd), "--platform", "esp32", "--seed", "14",
                          "--core", "2018", "--max-checks", "6", path="/update/padded")
            consistent(res, npd, "padded esp32 fleet, 2018 cores")
            eq(res.get("updated"), npd, "2018 cores: all updated, none looping")
            eq(res.get("failed"), {}, "2018 cores: none failed")
            check(res.get("checks", 0) <= npd * 3,
                  "2018 cores: one download each (checks %r)" % res.get("checks"))

            # 3. The truth about ESP8266: a cut during eboot's copy bricks the device, and
            #    is counted as the boot loader's brick, not the client's
            nb = 60
            rc, res = sim(srv, "--devices", str(nb), "--seed", "2", "--faults", "bootcut=0.5")
            consistent(res, nb, "bootcut fleet")
            eq(rc, 0, "bootcut fleet: exit status (boot loader bricks do not fail the run)")
            eq(res.get("bricked_client"), 0, "bootcut fleet: bricked by the client")
            check(res.get("bricked_bootloader", 0) > 0, "bootcut fleet: boot loader bricks")
            # (a cut right after a whole sector was written can leave an intact image:
            #  the new eboot sector with the old app behind it)
            check(res.get("bricked_bootloader", 0) <= res.get("power_cuts_bootloader", 0),
                  "bootcut fleet: bricks only where eboot's copy was cut")
            eq(res.get("updated", 0) + res.get("bricked_bootloader", 0), nb,
               "bootcut fleet: the others updated")

            # 4. Flash writes that report success but leave a bit unprogrammed (worn
            #    cells): the engine hashes the image read back from flash, so the x-MD5
            #    check fails, nothing is committed and the retry installs a good copy.
            #    The device's own client hashes the stream and would boot the broken
            #    image. Also in parity mode (--features none): it is the engine's check.
            for feat in ("all", "none"):
                nw = 80
                rc, res = sim(srv, "--devices", str(nw), "--seed", "31", "--features", feat,
                              "--faults", "weakwrite=0.5")
                what = "weak writes (%s)" % feat
                consistent(res, nw, what)
                eq(rc, 0, what + ": exit status")
                eq(res.get("updated"), nw, what + ": all updated")
                eq(res.get("bricked_client"), 0, what + ": bricked by the client")
                check(res.get("weak_writes", 0) > 0, what + ": weak writes happened")
                check(res.get("errors", {}).get("7", 0) > 0,
                      what + ": caught as MD5 failures (Updater error 7)")

            # 5. Deterministic for a seed: the same faults and outcomes
            args = ("--devices", "80", "--seed", "21", "--parallel", "16",
                    "--faults", "drop=0.1,truncate=0.1,corrupt=0.1,powercut=0.1")
            _, a = sim(srv, *args)
            _, b = sim(srv, *args)
            for r in (a, b):
                r.pop("seconds", None)
                r.pop("peak_rss_kb", None)
                r.pop("slowest_turn_ms", None)  # the machine's, not the seed's
            eq(a, b, "same seed, same outcome")
            _, c = sim(srv, *args[:3], "22", *args[4:])
            check(c.get("errors") != a.get("errors") or c.get("retries") != a.get("retries"),
                  "another seed, other faults")
        finally:
            srv.stop()
    print("fleet: %s" % ("FAILED (%d)" % len(FAILS) if FAILS else "ok"))
    return 1 if FAILS else 0


sys.exit(main())
