#!/usr/bin/env python3
"""`updraft sim` does not blame the server for its own shortcomings (issue 13): against
the real `updraft serve` on 127.0.0.1,

- a simulator that falls behind (here: stopped with SIGSTOP for longer than the device's
  HTTP timeout of 8 s while responses wait in its sockets, as a machine too busy to give
  it the CPU does) reads what is waiting before it applies a device's timeout, as the
  device's HTTPClient does: no device fails with -11 (read timeout) for bytes that came
  in time, no download is repeated, and `slowest_turn_ms` shows the stall;
- each device connects from an address of its own (127.B3.B4.B5, its MAC's last three
  bytes), as real devices do: a server's limit of open connections per address
  (--max-per-address) does not refuse a fleet whose downloads overlap, and the registry
  shows each device's own address.

usage: test_sim_late.py UPDRAFT_BINARY MKIMAGE_BINARY
Python 3 standard library only."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from simtest import BIN, FAILS, MKIMAGE, Server, check, eq

HTTP_TIMEOUT_S = 8  # ESPhttpUpdate's HTTPClient timeout (src/client/client.c)


def start_sim(srv, *args):
    cmd = [BIN, "sim", "--server", srv.url + "/update", "--quiet", "--json"] + list(args)
    print("$ " + " ".join(cmd[1:]), flush=True)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_sim(p):
    out, err = p.communicate(timeout=240)
    out, err = out.decode(), err.decode()
    print("  (exit %d) %s %s" % (p.returncode, out.strip()[-600:], err[-300:]), flush=True)
    try:
        return p.returncode, json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        check(False, "sim printed no JSON: %r %r" % (out[-300:], err[-300:]))
        return p.returncode, {}


def waiting_responses(port):
    """Connections to the server (port) whose client side has bytes it did not read:
    /proc/net/tcp, the receive queue of sockets whose remote port is the server's."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            remote, queues = fields[2], fields[4]
            if int(remote.split(":")[1], 16) == port and int(queues.split(":")[1], 16) > 0:
                n += 1
    return n


def event_count(srv, kind):
    st, ev = srv.api("GET", "/api/v1/events?kind=%s&limit=100000" % kind)
    return len(ev.get("events", []))


def t_stalled(tmp, img):
    """The simulator stops for longer than a device's timeout while responses wait."""
    srv = Server(tmp, "data-stall")
    try:
        st, _ = srv.api("POST", "/api/v1/releases?version=2.0.0&channel=stable",
                        open(img, "rb").read())
        eq(st, 201, "stall: upload the release")
        n = 600
        p = start_sim(srv, "--devices", str(n), "--parallel", "256")
        stalls = caught = 0
        deadline = time.time() + 120
        # stop it while responses wait unread in its sockets (up to 3 tries)
        while p.poll() is None and stalls < 3 and time.time() < deadline:
            if waiting_responses(srv.port) < 8:
                time.sleep(0.05)
                continue
            p.send_signal(signal.SIGSTOP)
            stalls += 1
            waiting = waiting_responses(srv.port)
            time.sleep(HTTP_TIMEOUT_S + 1.5)
            p.send_signal(signal.SIGCONT)
            print("  stall %d: %d responses waiting unread" % (stalls, waiting), flush=True)
            if waiting >= 8:
                caught += 1
                break
        rc, res = finish_sim(p)
        check(caught >= 1, "stall: the simulator was stopped with responses waiting (%d tries)"
              % stalls)
        eq(rc, 0, "stall: exit status")
        eq(res.get("updated"), n, "stall: every device updated")
        eq(res.get("errors"), {}, "stall: no error on the way (no -11 for bytes that were there)")
        eq(res.get("retries"), 0, "stall: no retried check")
        eq(res.get("checks"), 2 * n, "stall: two checks per device (download, then 304)")
        check(res.get("slowest_turn_ms", 0) >= HTTP_TIMEOUT_S * 1000,
              "stall: slowest_turn_ms shows the stall: %r" % res.get("slowest_turn_ms"))
        # the server's side: each device downloaded once and none was found failed
        srv.api("GET", "/api/v1/devices?limit=1")  # waits for the writer
        eq(event_count(srv, "download-completed"), n, "stall: one download per device")
        eq(event_count(srv, "failed"), 0, "stall: no device inferred failed")
    finally:
        srv.stop()


def t_addresses(tmp, img):
    """Overlapping downloads against a server allowing 8 connections per address."""
    srv = Server(tmp, "data-addr", "--max-per-address", "8")
    try:
        st, _ = srv.api("POST", "/api/v1/releases?version=2.0.0&channel=stable",
                        open(img, "rb").read())
        eq(st, 201, "addresses: upload the release")
        n = 48
        # 120 KB at 200 KB/s: each download takes longer than it takes all to start
        rc, res = finish_sim(start_sim(srv, "--devices", str(n), "--parallel", str(n),
                                       "--faults", "slow=200", "--mac-start", "250"))
        eq(rc, 0, "addresses: exit status")
        eq(res.get("updated"), n, "addresses: every device updated")
        eq(res.get("errors"), {}, "addresses: no connection refused or lost on the way")
        eq(res.get("checks"), 2 * n, "addresses: two checks per device")
        st, status = srv.api("GET", "/api/v1/")
        eq(status.get("slow_clients", {}).get("refused_per_address"), 0,
           "addresses: the server refused no connection at its per-address limit")
        for num in (250, 256, 250 + n - 1):
            mac = "5C:CF:7F:%02X:%02X:%02X" % (num >> 16, (num >> 8) & 255, num & 255)
            st, dev = srv.api("GET", "/api/v1/devices/" + mac)
            eq(dev.get("ip"), "127.%d.%d.%d" % (num >> 16, (num >> 8) & 255, num & 255),
               "addresses: device %s connected from its own address" % mac)
    finally:
        srv.stop()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "app.bin")
        subprocess.run([MKIMAGE, "esp8266-app", img, "300000", "7"], check=True)
        small = os.path.join(tmp, "small.bin")
        subprocess.run([MKIMAGE, "esp8266-app", small, "120000", "7"], check=True)
        t_addresses(tmp, small)
        t_stalled(tmp, img)
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
