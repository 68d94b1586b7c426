#!/usr/bin/env python3
"""Cohorts (issue 9) and the channel devices effectively use (issue 10): device tags, the
target filter (docs/filters.md) in the CLI and the API, the channel named in a device's
update URL as the registry records it, and `channel set --allow-downgrade`. The real
binary against the real `updraft serve` on 127.0.0.1, devices as the ESP8266 core's
byte-exact requests.

usage: test_cohorts.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: tags filter urlchannel downgrade"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request, events


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
        srv = Server(data=data)
        eq(srv.api("GET", "/api/v1/devices/%s" % mac(1)).json["url_channel"], "beta",
           "the URL's channel survives a restart")
        del ra, rb
    finally:
        srv.stop()


GROUPS = {"tags": t_tags, "filter": t_filter, "urlchannel": t_urlchannel}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
