#!/usr/bin/env python3
"""A bad release through a 4-wave rollout (issue 9): N simulated ESP8266 devices
(`updraft sim`, the real device engine) polling one `updraft serve`, a release that fails
on half of them, waves 1%,10%,50%,100%. Measures how many devices got the release before
the rollout paused itself (goal: no more than wave 1 + 1% of the fleet) and the time from
the check that crossed the failure limit to the pause (goal: that check itself, i.e. the
writer's latency). Writes bench/results/rollout.md.

usage: bench/rollout/run.py [N]     (release build in build/release: cmake --preset release)
Settings (environment): UPDRAFT, MKIMAGE (binaries), INTERVAL (device poll, 2s), SOAK (30s)
Python 3 standard library only; loopback only."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UPD = os.environ.get("UPDRAFT", os.path.join(ROOT, "build/release/src/cli/updraft"))
MK = os.environ.get("MKIMAGE", os.path.join(ROOT, "build/release/tests/cli/mkimage"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
INTERVAL = os.environ.get("INTERVAL", "2s")
SOAK = os.environ.get("SOAK", "30s")
TOKEN = "bench-rollout-token-0123456789"
OUT = os.path.join(ROOT, "bench/results/rollout.md")


def api(port, method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1%s" % (port, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")


def scenario(tmp, name, mode, silent_after):
    data = os.path.join(tmp, name)
    env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
    log = open(os.path.join(tmp, name + ".log"), "w+")
    srv = subprocess.Popen([UPD, "serve", "--listen", "127.0.0.1:0", "--data", data],
                           stdout=log, stderr=subprocess.STDOUT, env=env)
    port = None
    for _ in range(100):
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    if not port:
        sys.exit("bench/rollout: the server did not start")
    url = "http://127.0.0.1:%d/update" % port
    base = [UPD, "sim", "--server", url, "--devices", str(N), "--seed", "1", "--quiet",
            "--json", "--interval", INTERVAL]
    try:
        # the fleet checks in once: the devices are known, nothing is offered yet
        subprocess.run(base + ["--duration", "4s"], capture_output=True, timeout=300)
        img = os.path.join(tmp, "app.bin")
        subprocess.run([MK, "esp8266-app", img, "300000", "9"], check=True,
                       capture_output=True)
        req = urllib.request.Request(
            "http://127.0.0.1:%d/api/v1/releases?version=2.0.0" % port, method="POST",
            data=open(img, "rb").read(), headers={"Authorization": "Bearer " + TOKEN})
        rel = json.loads(urllib.request.urlopen(req, timeout=60).read())
        ro = api(port, "POST", "/rollouts", {
            "release": rel["id"], "waves": "1%,10%,50%,100%", "max_failures": "5%",
            "min_sample": 20, "soak": SOAK, "silent_after": silent_after})
        wave1 = ro["waves_detail"][0]["eligible"]
        eligible = ro["total"]["eligible"]
        t0 = time.time()
        sim = subprocess.Popen(base + ["--duration", "60s", "--bad-release",
                                       "2.0.0:50%%:%s" % mode], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        paused_after = None
        while sim.poll() is None:
            st = api(port, "GET", "/rollouts/%d" % ro["id"])
            if st["state"] == "paused" and paused_after is None:
                paused_after = time.time() - t0
            time.sleep(0.2)
        simout = json.loads(sim.stdout.read().decode().strip().splitlines()[-1])
        st = api(port, "GET", "/rollouts/%d" % ro["id"])
        tot = st["total"]
        reached = tot["eligible"] - tot["pending"]
        pause = api(port, "GET", "/events?kind=rollout-paused&limit=10")["events"]
        fails = [e for e in api(port, "GET", "/events?kind=failed&limit=1000")["events"]
                 if e["release"] == rel["id"]]
        lat = None
        if pause:
            pt = pause[0]["at"]
            before = [e["at"] for e in fails if e["at"] <= pt]
            if before:
                def ms(t):
                    return time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + \
                        int(t[20:23])
                lat = ms(pt) - ms(max(before))
        return {"name": name, "mode": mode, "eligible": eligible, "wave1": wave1,
                "reached": reached, "state": st["state"], "wave": st["wave"],
                "reason": st["reason"], "paused_after": paused_after, "latency_ms": lat,
                "silent_after": silent_after, "counts": tot, "sim": simout}
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(30)


def main():
    for b in (UPD, MK):
        if not os.access(b, os.X_OK):
            sys.exit("bench/rollout: %s is not built (cmake --preset release && cmake --build "
                     "--preset release)" % b)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(scenario(tmp, "refuse", "refuse", "5m"))
        rows.append(scenario(tmp, "loop", "loop", "10s"))
    ver = subprocess.run([UPD, "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    lines = [
        "# Rollout benchmark: a bad release through a 4-wave rollout",
        "",
        "Written by `bench/rollout/run.py` (method in its header and docs/rollouts.md).",
        "Do not edit by hand: run the script again.",
        "",
        "| | |", "|---|---|",
        "| date | %s |" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "| updraft | %s, %s |" % (commit, ver),
        "| load average after | %s (other jobs share the machine) |" % load,
        "| fleet | %d simulated ESP8266 devices (`updraft sim`), polling every %s |" % (N, INTERVAL),
        "| rollout | waves 1%%,10%%,50%%,100%%, --max-failures 5%%, --min-sample 20, --soak %s |"
        % SOAK,
        "| release | fails on 50% of the devices (`--bad-release 2.0.0:50%:MODE`) |",
        "",
        "| mode | eligible | wave 1 | devices reached | goal (wave 1 + 1%) | paused in wave |"
        " check that crossed -> pause | pause after start | why |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in rows:
        goal = r["wave1"] + (r["eligible"] + 99) // 100
        lines.append("| %s | %d | %d | %d | <= %d: %s | %s | %s | %s | %s |" % (
            r["mode"], r["eligible"], r["wave1"], r["reached"], goal,
            "met" if r["reached"] <= goal else "MISSED",
            r["wave"] if r["state"] == "paused" else "not paused (%s)" % r["state"],
            "%d ms" % r["latency_ms"] if r["latency_ms"] is not None else "n/a",
            "%.1f s" % r["paused_after"] if r["paused_after"] is not None else "n/a",
            r["reason"]))
    lines += [
        "",
        "refuse: the Updater rejects the image at the end of the download (ESP8266 error "
        "12); the device checks in again on its old image, which the server reads as a "
        "failure at that check (no outcome report needed). loop: the new firmware never "
        "boots to a check; the device counts as failed once --silent-after (%s here) has "
        "passed since its download, so the pause comes that long after the first downloads; "
        "no check crosses the limit then (silence is noticed by the clock), so the latency "
        "column is n/a." %
        rows[1]["silent_after"],
        "",
        "\"devices reached\" = devices that were offered the release (eligible - pending in "
        "`rollout show`). Counts at the end of the run: " + "; ".join(
            "%s: %s" % (r["mode"], ", ".join("%s %d" % (k, v) for k, v in r["counts"].items()))
            for r in rows) + ".",
        "",
    ]
    with open(OUT, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
