#!/usr/bin/env python3
"""Cohorts (issue 9) and the channel devices effectively use (issue 10): device tags, the
target filter (docs/filters.md) in the CLI and the API, the channel named in a device's
update URL as the registry records it, and `channel set --allow-downgrade`. The real
binary against the real `updraft serve` on 127.0.0.1, devices as the ESP8266 core's
byte-exact requests.

usage: test_cohorts.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: tags filter urlchannel downgrade rollback"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request, events


KEEP = []


def run(srv, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPDRAFT_")}
    env.update(UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
    p = subprocess.run([t.BIN] + list(args), capture_output=True, text=True, env=env,
                       input=stdin, timeout=30)
    return p.returncode, p.stdout, p.stderr


def mac(i):
    return "AB:CD:EF:00:00:%02X" % i


def checkin(srv, i, version="1.0.0", path="/update"):
    r = srv.raw(esp8266_request(srv.port, path=path, mac=mac(i), version=version, md5sum=None))
    check(r.status in (200, 304), "device %d checks in: %d" % (i, r.status))
    return r


def listed(srv, flt, **q):
    q["filter"] = flt
    r = srv.api("GET", "/api/v1/devices?" + urllib.parse.urlencode(q))
    eq(r.status, 200, "filter %r: 200 (%s)" % (flt, r.body[:200]))
    return [d["mac"] for d in r.json["devices"]] if r.json else []


def no_api_words(text, what):
    for w in ("/api/v1", "{\"", "POST ", "GET ", "dry_run"):
        check(w not in text, "%s: no API terms (%r) in %r" % (what, w, text))


def t_tags():
    srv = Server()
    try:
        for i in range(1, 7):
            checkin(srv, i)
        # one device, the API
        r = srv.api("POST", "/api/v1/devices/%s/tags" % mac(1), {"add": ["lab", "kitchen"]})
        eq((r.status, r.json and r.json["tags"]), (200, ["kitchen", "lab"]), "API: tag one device")
        r = srv.api("POST", "/api/v1/devices/%s/tags" % mac(1), {"remove": ["kitchen", "attic"]})
        eq((r.status, r.json and r.json["tags"]), (200, ["lab"]), "API: untag one device")
        ev = events(srv, mac(1), "tags")
        eq([e["detail"] for e in ev],
           ["tags -kitchen (now: lab)", "tags +kitchen +lab (now: kitchen,lab)"],
           "each change is a 'tags' event saying what changed")
        r = srv.api("POST", "/api/v1/devices/%s/tags" % mac(1), {"add": ["lab"]})
        eq(r.status, 200, "a tag it has already: fine")
        eq(len(events(srv, mac(1), "tags")), 2, "... and no event when nothing changed")
        r = srv.api("POST", "/api/v1/devices/%s/tags" % mac(1), {"add": ["Lab"]})
        check(r.status == 400 and r.json["kind"] == "bad-tag" and "capital letters" in
              r.json["error"], "API: a bad tag name is refused: %s" % r.body)
        r = srv.api("POST", "/api/v1/devices/%s/tags" % mac(1), {})
        eq(r.status, 400, "API: no tags named: 400")
        r = srv.api("POST", "/api/v1/devices/DE:AD:00:00:00:01/tags", {"add": ["lab"]})
        eq(r.status, 404, "API: unknown device: 404")
        r = srv.api("GET", "/api/v1/devices/%s/tags" % mac(1))
        eq(r.status, 405, "API: GET on .../tags: 405")

        # one device, the CLI
        rc, out, err = run(srv, "device", "tag", mac(2), "lab", "floor-2")
        eq((rc, out), (0, "%s: tags floor-2,lab\n" % mac(2)), "CLI tag: %s" % err)
        rc, out, err = run(srv, "device", "untag", mac(2), "floor-2")
        eq((rc, out), (0, "%s: tags lab\n" % mac(2)), "CLI untag: %s" % err)
        rc, out, err = run(srv, "device", "tag", mac(2), "Kitchen")
        check(rc == 1 and "tag 'Kitchen' has capital letters" in err and
              err.startswith("updraft device tag: "), "CLI: bad tag said: %r" % err)
        no_api_words(err, "bad tag")
        rc, out, err = run(srv, "device", "tag", mac(2), "x" * 25)
        check(rc == 1 and "longer than 24 characters" in err, "CLI: long tag: %r" % err)
        rc, out, err = run(srv, "device", "tag", "DE:AD:00:00:00:01", "lab")
        check(rc == 1 and "no device DE:AD:00:00:00:01" in err, "CLI: unknown device: %r" % err)
        rc, out, err = run(srv, "device", "tag", mac(2))
        check(rc == 2 and "usage: updraft device tag" in err, "CLI: no tag: usage")
        rc, out, err = run(srv, "device", "tag", mac(2), "lab", "--yes")
        check(rc == 2 and "--yes go with --filter/--macs" in err, "CLI: --yes with one MAC: %r" % err)
        too_many = ["t%d" % k for k in range(10)]
        rc, out, err = run(srv, "device", "tag", mac(3), *too_many)
        eq(rc, 0, "ten tags fit: %s" % err)
        rc, out, err = run(srv, "device", "tag", mac(3), "one-more")
        check(rc == 1 and "at most 10 tags" in err, "CLI: the 11th tag is refused: %r" % err)

        # bulk by filter: without --yes nothing changes, exit 1, and it says how to go on
        rc, out, err = run(srv, "device", "tag", "--filter", "tag=lab", "wave-a")
        check(rc == 1 and "2 devices would be tagged, 0 unchanged; nothing changed: run it again "
              "with --yes" in out, "bulk without --yes: a preview: %r %r" % (out, err))
        check(mac(1) in out and mac(2) in out and "lab -> lab,wave-a" in out,
              "the preview lists the changes: %r" % out)
        eq(listed(srv, "tag=wave-a"), [], "... and nothing changed")
        rc, out, err = run(srv, "device", "tag", "--filter", "tag=lab", "wave-a", "--dry-run")
        check(rc == 0 and "nothing changed (--dry-run)" in out, "--dry-run: exit 0: %r" % out)
        rc, out, err = run(srv, "device", "tag", "--filter", "tag=lab", "wave-a", "--yes")
        check(rc == 0 and "2 devices tagged, 0 unchanged" in out, "bulk --yes: %r %r" % (out, err))
        eq(sorted(listed(srv, "tag=wave-a")), [mac(1), mac(2)], "bulk tag reached exactly them")
        rc, out, err = run(srv, "device", "tag", "--filter", "tag=lab", "wave-a", "--yes")
        check(rc == 0 and "0 devices tagged, 2 unchanged" in out, "again: unchanged: %r" % out)
        rc, out, err = run(srv, "device", "tag", "--filter", "tga=lab", "x", "--yes")
        check(rc == 1 and "--filter: filter term 'tga=lab': unknown key 'tga' (did you mean tag?)"
              in err, "bulk: a bad filter is said in the filter's terms: %r" % err)
        no_api_words(err, "bad filter")
        rc, out, err = run(srv, "device", "untag", "--filter", "", "wave-a", "--yes")
        check(rc == 0 and "2 devices untagged, 4 unchanged" in out,
              "'' selects every device: %r %r" % (out, err))
        # a bulk change that would give one device an 11th tag changes nothing at all
        rc, out, err = run(srv, "device", "tag", "--filter", "", "extra", "--yes")
        check(rc == 1 and "device %s: a device carries at most 10 tags" % mac(3) in err and
              "nothing was changed" in err, "bulk refused as a whole: %r" % err)
        eq(listed(srv, "tag=extra"), [], "... nothing changed")

        # bulk by a file of MACs
        tmp = tempfile.TemporaryDirectory()
        f = os.path.join(tmp.name, "macs.txt")
        open(f, "w").write("# kitchen devices\n%s\n\n%s  # the one by the window\n"
                           "DE:AD:00:00:00:09\n" % (mac(4), mac(5).lower().replace(":", "")))
        rc, out, err = run(srv, "device", "tag", "--macs", f, "kitchen", "--yes")
        check(rc == 1 and "2 devices tagged" in out and
              "1 MAC is not in the registry, left alone: DE:AD:00:00:00:09" in out,
              "--macs: tags the known ones, names the unknown one, exit 1: %r %r" % (out, err))
        eq(sorted(listed(srv, "tag=kitchen")), [mac(4), mac(5)], "--macs reached exactly them")
        open(f, "w").write("%s\nnot-a-mac\n" % mac(4))
        rc, out, err = run(srv, "device", "untag", "--macs", f, "kitchen", "--yes")
        check(rc == 2 and "--macs %s line 2: 'not-a-mac' is not a MAC address" % f in err,
              "--macs: a bad line is named: %r" % err)
        eq(sorted(listed(srv, "tag=kitchen")), [mac(4), mac(5)], "... and nothing changed")
        rc, out, err = run(srv, "device", "untag", "--macs", "-", "kitchen", "--yes",
                           stdin="%s\n" % mac(4))
        check(rc == 0 and "1 device untagged" in out, "--macs - reads stdin: %r %r" % (out, err))
        rc, out, err = run(srv, "device", "tag", "--macs", f, "--filter", "", "x")
        check(rc == 2 and "give one MAC, or --filter FILTER, or --macs FILE" in err,
              "--macs and --filter: one of them: %r" % err)
        r = srv.api("POST", "/api/v1/devices/tags", {"macs": ["zz"], "add": ["a"]})
        check(r.status == 400 and r.json["kind"] == "bad-mac" and r.json["index"] == 0,
              "API bulk: a bad MAC is named by its index: %s" % r.body)
        r = srv.api("POST", "/api/v1/devices/tags", {"add": ["a"]})
        eq(r.status, 400, "API bulk: neither filter nor macs: 400")
        r = srv.api("POST", "/api/v1/devices/tags",
                    {"filter": "tag=lab", "add": ["b"], "dry_run": True})
        eq((r.status, r.json["matched"], r.json["changed"], r.json["filter"]),
           (200, 2, 2, "tag=lab"), "API bulk dry run: counts and the canonical filter")

        # device list shows the tags; tags survive a restart (they are in the database)
        rc, out, err = run(srv, "device", "list", "--filter", "tag=lab")
        check(rc == 0 and "TAGS" in out.splitlines()[0], "device list has a TAGS column: %r" % out)
        check("floor-2" not in out and "lab" in out, "device list shows the tags")
        rc, out, err = run(srv, "device", "show", mac(1))
        check(rc == 0 and "tags               lab" in out, "device show shows the tags: %r" % out)
        data = srv.data
        srv.stop()
        KEEP.append(srv)  # its temporary directory holds the data directory
        srv = Server(data=data)
        eq(sorted(listed(srv, "tag=lab")), [mac(1), mac(2)], "tags survive a restart")
        # a check-in keeps the tags (the writer's upsert does not touch them)
        checkin(srv, 1, version="1.0.1")
        eq(srv.api("GET", "/api/v1/devices/%s" % mac(1)).json["tags"], ["lab"],
           "a check-in leaves the tags alone")
    finally:
        srv.stop()


def t_filter():
    srv = Server()
    try:
        # 1,2: esp8266 1.0.0 stable; 3: 1.10.0 on /update/beta; 4: 2.0.0 assigned beta
        checkin(srv, 1, "1.0.0")
        checkin(srv, 2, "1.0.0")
        checkin(srv, 3, "1.10.0", path="/update/beta")
        checkin(srv, 4, "2.0.0")
        eq(srv.api("PUT", "/api/v1/devices/%s/channel" % mac(4), {"channel": "beta"}).status, 200,
           "assign 4 to beta")
        srv.api("POST", "/api/v1/devices/%s/tags" % mac(1), {"add": ["lab"]})
        srv.api("POST", "/api/v1/devices/%s/tags" % mac(3), {"add": ["kitchen"]})
        cases = [
            ("", [1, 2, 3, 4]),
            ("platform=esp8266", [1, 2, 3, 4]),
            ("platform=esp32", []),
            ("version<2.0.0", [1, 2, 3]),
            ("version<1.9", [1, 2]),  # 1.10 orders after 1.9
            ("version>=1.10", [3, 4]),
            ("version=1.0.0,2.0.0", [1, 2, 4]),
            ("version!=1.0.0", [3, 4]),
            ("channel=beta", [3, 4]),  # 3 by its URL, 4 assigned
            ("channel=stable", [1, 2]),
            ("tag=lab,kitchen", [1, 3]),
            ("tag!=lab", [2, 3, 4]),
            ("tag=lab,kitchen version<1.5", [1]),
            ("mac=%s,%s" % (mac(2), mac(4).replace(":", "").lower()), [2, 4]),
            ("seen<1h", [1, 2, 3, 4]),
            ("seen>1d", []),
            ("pinned=no", [1, 2, 3, 4]),
            ("tool=none", [1, 2, 3, 4]),
            ("chip=esp8266", [1, 2, 3, 4]),
        ]
        for flt, want in cases:
            eq(sorted(listed(srv, flt)), [mac(i) for i in want], "API filter %r" % flt)
        r = srv.api("GET", "/api/v1/devices?" + urllib.parse.urlencode(
            {"filter": "Platform=ESP8266  tags=lab"}))
        eq((r.json["filter"], r.json["total"]), ("platform=esp8266 tag=lab", 1),
           "the API answers the canonical filter and the total")
        # filter ANDed with the older query parameters, paging over the matches
        eq(listed(srv, "version<2.0.0", channel="beta"), [mac(3)], "filter AND channel=")
        r = srv.api("GET", "/api/v1/devices?" + urllib.parse.urlencode(
            {"filter": "platform=esp8266", "limit": 2, "offset": 1}))
        eq((r.json["total"], len(r.json["devices"])), (4, 2), "paging counts every match")
        # errors point at the term and say what is allowed
        bad = [("verison<2.0", "filter term 'verison<2.0': unknown key 'verison' (did you mean "
                "version?): keys are platform, chip, channel, tag, version, seen, mac, pinned, "
                "attention, tool"),
               ("seen<24", "filter term 'seen<24': '24' is not an age"),
               ("tag<lab", "filter term 'tag<lab': tag cannot be compared with <"),
               ("platform=esp8266 esp32", "filter term 'esp32': not KEY=VALUE"),
               ("version<1,2", "< compares with one value")]
        for flt, words in bad:
            r = srv.api("GET", "/api/v1/devices?" + urllib.parse.urlencode({"filter": flt}))
            check(r.status == 400 and r.json["kind"] == "bad-filter" and words in r.json["error"],
                  "API: bad filter %r: %s" % (flt, r.body))
        # the CLI
        rc, out, err = run(srv, "device", "list", "--filter", "tag=lab,kitchen version<1.5")
        check(rc == 0 and mac(1) in out and mac(3) not in out and "devices 1-1 of 1" in out,
              "device list --filter: %r %r" % (out, err))
        rc, out, err = run(srv, "device", "list", "--filter", "seen<24")
        check(rc == 1 and err.startswith("updraft device list: --filter: filter term 'seen<24'")
              and "seen<24h" in err, "device list: a bad filter in CLI words: %r" % err)
        no_api_words(err, "device list --filter")
        rc, out, err = run(srv, "device", "list", "--filter", "version<2", "--json")
        j = json.loads(out)
        eq((rc, j["total"]), (0, 3), "device list --filter --json")
        # a filter selects the tools' devices too, unless it says tool=none
        r = srv.raw(esp8266_request(srv.port, mac=mac(9), version="1.0.0", md5sum=None)
                    .replace(b"Content-Length: 0", b"x-updraft-tool: sim\r\nContent-Length: 0"))
        rc, out, err = run(srv, "device", "list", "--filter", "version=1.0.0")
        check(mac(9) in out, "--filter lists the sim's device: %r" % out)
        rc, out, err = run(srv, "device", "list", "--filter", "version=1.0.0 tool=none")
        check(mac(9) not in out and mac(1) in out, "tool=none leaves it out: %r" % out)
        rc, out, err = run(srv, "device", "list")
        check(mac(9) not in out and "not counted: 1 device made by updraft sim" in out,
              "without --filter, device list still hides it: %r" % out)
    finally:
        srv.stop()


def t_urlchannel():
    """The registry records the channel in a device's update URL, and `device list` shows
    the channel the device effectively uses: exactly the one the server serves it from."""
    srv = Server()
    try:
        a, b = arduino_bin(seed=31), arduino_bin(seed=32)
        ra = srv.upload(a, "1.0", channel="stable").json
        rb = srv.upload(b, "2.0", channel="beta").json
        r = checkin(srv, 1, version="0.5", path="/update/beta")
        eq(r.headers.get("x-md5"), t.md5(b), "/update/beta serves beta's release")
        d = srv.api("GET", "/api/v1/devices/%s" % mac(1)).json
        eq((d["url_channel"], d["channel"], d["effective_channel"]), ("beta", None, "beta"),
           "the URL's channel is recorded and effective")
        rc, out, err = run(srv, "device", "list")
        row = [l for l in out.splitlines() if l.startswith(mac(1))]
        check(rc == 0 and row and row[0].split()[3] == "beta",
              "device list: CHANNEL is the URL's channel: %r" % out)
        # an assignment does not beat the URL: the CLI says so
        rc, out, err = run(srv, "device", "channel", mac(1), "stable")
        check(rc == 0 and "channel beta" in out and "asks for channel beta in its update URL, "
              "which wins over the assigned channel stable" in out,
              "device channel says the URL wins: %r %r" % (out, err))
        r = checkin(srv, 1, version="0.5", path="/update/beta")
        eq(r.headers.get("x-md5"), t.md5(b), "... and the server indeed serves beta")
        # the same device now checks /update: the URL names no channel, the assignment counts
        r = checkin(srv, 1, version="0.5", path="/update")
        eq(r.headers.get("x-md5"), t.md5(a), "/update serves the assigned channel (stable)")
        d = srv.api("GET", "/api/v1/devices/%s" % mac(1)).json
        eq((d["url_channel"], d["channel"], d["effective_channel"]), (None, "stable", "stable"),
           "a check without a channel in the URL clears the recorded one")
        # the same facts again, on /update/beta: the cheap path must not miss the URL change
        checkin(srv, 1, version="0.5", path="/update/beta")
        eq(srv.api("GET", "/api/v1/devices/%s" % mac(1)).json["effective_channel"], "beta",
           "a check that changes only the URL's channel is recorded")
        eq(sorted(d["mac"] for d in srv.api("GET", "/api/v1/devices?channel=beta")
                  .json["devices"]), [mac(1)], "channel= selects by the effective channel")
        eq(listed(srv, "channel=beta"), [mac(1)], "and so does the filter")
        # never assigned, no URL channel: stable
        checkin(srv, 2, version="0.5")
        eq(srv.api("GET", "/api/v1/devices/%s" % mac(2)).json["effective_channel"], "stable",
           "neither: stable")
        # survives a restart
        data = srv.data
        srv.stop()
        KEEP.append(srv)  # its temporary directory holds the data directory
        srv = Server(data=data)
        eq(srv.api("GET", "/api/v1/devices/%s" % mac(1)).json["url_channel"], "beta",
           "the URL's channel survives a restart")
        del ra, rb
    finally:
        srv.stop()


def t_downgrade():
    """`channel set` to an older release: without --allow-downgrade it warns how many
    devices will not move and names the flag; with it the channel's newer devices are
    offered the older release once, and the permission ends with the next `channel set`."""
    srv = Server()
    try:
        a, b = arduino_bin(seed=41), arduino_bin(seed=42)
        ra = srv.upload(a, "1.0.0", channel="stable").json
        rb = srv.upload(b, "2.0.0", channel="stable").json

        def dev(i, version, image):  # a device that runs image (its version and MD5)
            return srv.raw(esp8266_request(srv.port, mac=mac(i), version=version,
                                           md5sum=t.md5(image)))
        for i in (1, 2, 3):
            r = dev(i, "1.0.0", a)
            eq(r.status, 200, "device %d: 1.0.0 -> offered 2.0.0" % i)
            eq(dev(i, "2.0.0", b).status, 304, "device %d: runs 2.0.0, current" % i)
        # device 4 is pinned to 2.0.0, device 5 follows beta: neither is concerned
        eq(dev(4, "2.0.0", b).status, 304, "device 4 runs 2.0.0")
        srv.api("POST", "/api/v1/devices/%s/pin" % mac(4), {"release": rb["id"]})
        srv.raw(esp8266_request(srv.port, path="/update/beta", mac=mac(5), version="2.0.0",
                                md5sum=t.md5(b)))
        # without the flag: a warning in CLI words, and nobody moves
        rc, out, err = run(srv, "channel", "set", "stable", str(ra["id"]))
        check(rc == 0 and "now serves release %d (version 1.0.0)" % ra["id"] in out,
              "channel set to the older release: done: %r %r" % (out, err))
        eq(err, "updraft channel set: warning: 3 devices on channel stable run a newer version "
           "than 1.0.0 and will not move: downgrades are offered only with --allow-downgrade "
           "('updraft channel set stable %d --allow-downgrade') or to pinned devices\n" % ra["id"],
           "the warning counts the devices and names the flag")
        r = dev(1, "2.0.0", b)
        eq((r.status, r.headers.get("x-updraft-result")), (304, "declined"),
           "without the flag: no downgrade")
        check("--allow-downgrade" in r.headers.get("x-updraft-reason", ""),
              "the device's reason names the flag: %r" % r.headers.get("x-updraft-reason"))
        # with it: each newer device is offered the older release, once
        rc, out, err = run(srv, "channel", "set", "stable", str(ra["id"]), "--allow-downgrade")
        check(rc == 0 and "downgrades allowed: 3 devices on it that run a newer version are "
              "offered release %d once" % ra["id"] in out and not err,
              "channel set --allow-downgrade says whom it reaches: %r %r" % (out, err))
        for i in (1, 2, 3):
            r = dev(i, "2.0.0", b)
            eq((r.status, r.headers.get("x-md5")), (200, t.md5(a)),
               "device %d (2.0.0) is offered 1.0.0" % i)
            r = dev(i, "1.0.0", a)
            eq((r.status, r.headers.get("x-updraft-result")), (304, "current"),
               "device %d runs 1.0.0: current, no loop" % i)
        ev = [e["detail"] for e in events(srv, mac(1), "offered")]
        check(any("as a downgrade from 2.0.0 (channel set with --allow-downgrade)" in d
                  for d in ev), "the offer event says it is a downgrade: %r" % ev[:2])
        check(any("also to devices that run a newer version (--allow-downgrade)" in e["detail"]
                  for e in events(srv, None, "channel-set")), "the channel-set event says so")
        eq(dev(4, "2.0.0", b).status, 304, "the pinned device stays on its pin")
        r = srv.raw(esp8266_request(srv.port, path="/update/beta", mac=mac(5), version="2.0.0",
                                    md5sum=t.md5(b)))
        eq(r.status, 304, "a device of another channel is not concerned")
        # a device that comes later on 2.0.0 gets it too while the permission holds
        eq(dev(6, "2.0.0", b).status, 200, "a late device is rolled back too")
        # survives a restart
        data = srv.data
        srv.stop()
        KEEP.append(srv)  # its temporary directory holds the data directory
        srv = Server(data=data)
        eq(dev(7, "2.0.0", b).status, 200, "the permission survives a restart")
        # the next channel set without the flag ends it
        rc, out, err = run(srv, "channel", "set", "stable", str(ra["id"]))
        eq(rc, 0, "channel set again, no flag")
        check("warning: 2 devices" in err, "it warns about the devices still on 2.0.0 (6 and 7 "
              "have not installed it; 4 is pinned): %r" % err)
        r = dev(8, "2.0.0", b)
        eq((r.status, r.headers.get("x-updraft-result")), (304, "declined"),
           "without the flag again: no downgrade")
        # the API
        r = srv.api("PUT", "/api/v1/channels/stable", {"release": ra["id"], "allow_downgrade": True})
        eq((r.status, r.json["allow_downgrade"], r.json["newer_devices"]), (200, True, 3),
           "API: allow_downgrade and newer_devices (6, 7, 8)")
    finally:
        srv.stop()


def t_rollback():
    """The README's walk with `updraft sim`: a fleet updates to 1.1.0, `channel set` back
    to 1.0.0 moves nobody (the sim counts them refused, with the reason), with
    --allow-downgrade every device goes back to 1.0.0, and a device that runs it is
    current (no update loop)."""
    srv = Server()
    try:
        tmp = tempfile.TemporaryDirectory()
        a, b = os.path.join(tmp.name, "app-1.0.bin"), os.path.join(tmp.name, "app-1.1.bin")
        open(a, "wb").write(arduino_bin(seed=51, irom=250000))
        open(b, "wb").write(arduino_bin(seed=52, irom=250000))
        url = "http://127.0.0.1:%d/update" % srv.port

        def sim(version, firmware=None):
            args = ["sim", "--server", url, "--devices", "20", "--version", version, "--json",
                    "--quiet"]
            if firmware:
                args += ["--firmware", firmware]
            rc, out, err = run(srv, *args)
            try:
                return rc, json.loads(out.strip().splitlines()[-1]), out
            except (ValueError, IndexError):
                check(False, "updraft sim %s: JSON summary: %r %r" % (version, out, err))
                return rc, {}, out

        eq(run(srv, "release", "add", a, "--version", "1.0.0", "--channel", "stable")[0], 0,
           "release add 1.0.0")
        rc, j, _ = sim("0.9.0")
        eq((rc, j.get("updated")), (0, 20), "the fleet updates to 1.0.0")
        eq(run(srv, "release", "add", b, "--version", "1.1.0", "--channel", "stable")[0], 0,
           "release add 1.1.0")
        rc, j, _ = sim("1.0.0", a)
        eq((rc, j.get("updated")), (0, 20), "the fleet updates to 1.1.0")
        # 1.1.0 is bad: back to release 1
        rc, out, err = run(srv, "channel", "set", "stable", "1")
        check(rc == 0 and "warning: 20 devices on channel stable run a newer version than 1.0.0 "
              "and will not move" in err, "channel set warns: %r" % err)
        rc, j, out = sim("1.1.0", b)
        check(rc == 1 and j.get("refused") == 20 and j.get("updated") == 0,
              "without --allow-downgrade the sim's devices are refused: %r" % out[-600:])
        reasons = json.dumps(j.get("refused_reasons"))
        check("--allow-downgrade" in reasons, "the sim shows the reason naming the flag: %s"
              % reasons[:300])
        rc, out, err = run(srv, "channel", "set", "stable", "1", "--allow-downgrade")
        check(rc == 0 and "downgrades allowed: 20 devices" in out, "rollback: %r %r" % (out, err))
        rc, j, out = sim("1.1.0", b)
        eq((rc, j.get("updated"), j.get("bricked_client")), (0, 20, 0),
           "with --allow-downgrade every device goes back to 1.0.0")
        rc, j, out = sim("1.0.0", a)
        eq((rc, j.get("current"), j.get("updated")), (0, 20, 0),
           "a device that runs 1.0.0 is current: no loop")
        rc, out, err = run(srv, "device", "list", "--filter", "tool=sim version=1.0.0", "--json")
        eq(json.loads(out)["total"] if rc == 0 else err, 20, "the registry sees them on 1.0.0")
    finally:
        srv.stop()


GROUPS = {"tags": t_tags, "filter": t_filter, "urlchannel": t_urlchannel,
          "downgrade": t_downgrade, "rollback": t_rollback}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
