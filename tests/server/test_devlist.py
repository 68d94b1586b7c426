#!/usr/bin/env python3
"""The device listing at fleet scale (issue 11, docs/api.md "Devices", docs/filters.md):
target filters evaluated by the store (SQL) give the same devices as the filter's rules
say, search by a part of a MAC or a tag (mac~, tag~), sort by version in updraft's version
order, and keyset paging (`after`/`next`) that walks every order exactly like offsets do;
`updraft device list --sort/--after` walks the same pages (group cli); against the real
`updraft serve` (SQLite, and PostgreSQL in the pg variant).

usage: test_devlist.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: filters sort paging cli"""
import json
import re
import shlex
import time
import urllib.parse

import test_server as t
from test_server import Server, check, eq

# (MAC, version or None, tags, platform): a small fleet with versions that string order
# gets wrong (1.10.0 > 1.9.0), spellings of one version (v1.2 = 1.2.0) and devices that
# never said their version
FLEET = [
    ("5C:CF:7F:0A:1B:2C", "1.9.0", ["kitchen"], "esp8266"),
    ("5C:CF:7F:0A:1B:2D", "1.10.0", ["kitchen", "lab"], "esp8266"),
    ("5C:CF:7F:10:A1:B0", "1.2.0", [], "esp8266"),
    ("5C:CF:7F:33:44:55", "v1.2", ["lab2", "floor_2"], "esp8266"),
    ("5C:CF:7F:00:00:01", None, ["attic"], "esp8266"),
    ("24:6F:28:0A:1B:99", "2.0.0", ["lab"], "esp32"),
    ("24:6F:28:AA:BB:CC", "1.10.0", ["floorx2"], "esp32"),
    ("24:6F:28:00:00:02", None, [], "esp32"),
    ("5C:CF:7F:0A:1B:2E", "1.10.0", ["kitchenette"], "esp8266"),
    ("5C:CF:7F:99:0A:1B", "0.9.9", [], "esp8266"),
]


def vkey(v):
    """updraft's version order for the versions of FLEET (docs/versions.md)."""
    parts = [int(x) for x in v.lstrip("v").split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def fleet(srv):
    for i, (mac, ver, tags, plat) in enumerate(FLEET):
        if plat == "esp8266":
            req = t.esp8266_request(srv.port, mac=mac, version=ver)
        else:
            req = t.esp32_request(srv.port, mac=mac, version=ver)
        srv.raw(req)
        time.sleep(0.01)
        if tags:
            r = srv.api("POST", "/api/v1/devices/%s/tags" % mac, {"add": tags})
            eq(r.status, 200, "tag %s" % mac)


def listing(srv, status=200, **q):
    r = srv.api("GET", "/api/v1/devices?" + urllib.parse.urlencode(q))
    eq(r.status, status, "GET devices %r: %s" % (q, r.body[:300]))
    return r.json or {}


def macs(srv, **q):
    return [d["mac"] for d in listing(srv, **q).get("devices", [])]


def t_filters():
    """Each filter selects what its rules say (computed here from FLEET), counted and paged
    by the store."""
    srv = Server()
    try:
        fleet(srv)
        hexmac = {m: m.replace(":", "") for m, _, _, _ in FLEET}
        cases = [
            ("mac~0A:1B", lambda m, v, g, p: "0A:1B" in m),
            ("mac~0a1b", lambda m, v, g, p: "0A1B" in hexmac[m]),
            ("mac~0a-1b", lambda m, v, g, p: "0A:1B" in m),
            ("mac~A1B", lambda m, v, g, p: "A1B" in hexmac[m]),
            ("mac!~0A:1B", lambda m, v, g, p: "0A:1B" not in m),
            ("mac~5c:cf:7f:0a:1b:2c", lambda m, v, g, p: m == "5C:CF:7F:0A:1B:2C"),
            ("tag~kitch", lambda m, v, g, p: any("kitch" in x for x in g)),
            ("tag~lab", lambda m, v, g, p: any("lab" in x for x in g)),
            ("tag=lab", lambda m, v, g, p: "lab" in g),
            ("tag!=lab", lambda m, v, g, p: "lab" not in g),
            # '_' is a tag's character, not a wildcard (PostgreSQL matches parts with LIKE)
            ("tag~r_2", lambda m, v, g, p: any("r_2" in x for x in g)),
            ("tag=floor_2", lambda m, v, g, p: "floor_2" in g),
            ("tag!~or_", lambda m, v, g, p: not any("or_" in x for x in g)),
            ("tag~KITCH platform=esp8266", lambda m, v, g, p: any("kitch" in x for x in g)
             and p == "esp8266"),
            ("version=1.2.0", lambda m, v, g, p: v is not None and vkey(v) == (1, 2, 0)),
            ("version>1.9.0", lambda m, v, g, p: v is not None and vkey(v) > (1, 9, 0)),
            ("version<=1.2", lambda m, v, g, p: v is not None and vkey(v) <= (1, 2, 0)),
            ("version!=1.10.0", lambda m, v, g, p: v is not None and vkey(v) != (1, 10, 0)),
            ("version=3.0.0", lambda m, v, g, p: False),
            ("platform!=esp32", lambda m, v, g, p: p != "esp32"),
            ("seen<1h mac~0A:1B", lambda m, v, g, p: "0A:1B" in m),
            ("seen>1h", lambda m, v, g, p: False),
            ("channel=stable version>=1.10 tag~lab", lambda m, v, g, p: v is not None and
             vkey(v) >= (1, 10, 0) and any("lab" in x for x in g)),
            # a chip term is matched above the store, the rest in SQL
            ("chip=esp8266 version>1.0", lambda m, v, g, p: p == "esp8266" and v is not None
             and vkey(v) > (1, 0, 0)),
            ("chip=esp8266 mac~0A1B", lambda m, v, g, p: p == "esp8266" and
             "0A1B" in hexmac[m]),
            ("chip=esp8266 tag~lab mac!~7F:0A", lambda m, v, g, p: p == "esp8266" and
             any("lab" in x for x in g) and "7F:0A" not in m),
        ]
        for flt, rule in cases:
            want = sorted(m for m, v, g, p in FLEET if rule(m, v, g, p))
            j = listing(srv, filter=flt, sort="mac", limit=1000)
            eq([d["mac"] for d in j.get("devices", [])], want, "filter %r" % flt)
            eq(j.get("total"), len(want), "filter %r: total" % flt)
            if len(want) > 2:  # paged by the store: offset and after agree
                page = listing(srv, filter=flt, sort="mac", limit=2, offset=1)
                eq([d["mac"] for d in page["devices"]], want[1:3], "filter %r, offset" % flt)
                eq(page["total"], len(want), "filter %r, a page's total" % flt)
        # the canonical form says how the parts were read
        eq(listing(srv, filter="mac~0a-1b tag~Kitch")["filter"], "mac~0A:1B tag~kitch",
           "canonical form")
        for bad, says in (("mac~0g", "not a part of a MAC"), ("mac~:0a", "not a part of a MAC"),
                          ("mac~0a::1b", "not a part of a MAC"), ("tag~a,", "value is missing"),
                          ("version~1.2", "cannot be compared with ~"),
                          ("mac~0123456789abcdef012", "longer than a mac")):
            j = listing(srv, 400, filter=bad)
            eq(j.get("kind"), "bad-filter", "filter %r refused" % bad)
            check(says in j.get("error", ""), "filter %r: the error says %r: %r" % (bad, says, j))
        # the CLI takes the same syntax
        env = dict(t.os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port,
                   UPDRAFT_TOKEN=t.TOKEN)
        p = t.subprocess.run([t.BIN, "device", "list", "--filter", "mac~0a1b", "--json"], env=env,
                             capture_output=True, text=True, timeout=60)
        eq(p.returncode, 0, "device list --filter mac~0a1b: %s" % p.stderr)
        got = sorted(re.findall(r'"mac":\s*"([0-9A-F:]{17})"', p.stdout))
        eq(got, sorted(m for m in hexmac if "0A1B" in hexmac[m]), "the CLI's devices")
    finally:
        srv.stop()


def t_sort():
    """version and -version: updraft's version order (the one upgrades use), devices that
    never said their version last (first in reverse), ties by MAC."""
    srv = Server()
    try:
        fleet(srv)
        known = [(vkey(v), v, m) for m, v, _, _ in FLEET if v]
        # versions that compare equal (1.2.0, v1.2) are kept apart by their text
        want = [m for _, _, m in sorted(known)] + \
            sorted(m for m, v, _, _ in FLEET if not v)
        eq(macs(srv, sort="version", limit=1000), want, "sort=version")
        eq(macs(srv, sort="-version", limit=1000), list(reversed(want)), "sort=-version")
        j = listing(srv, sort="version", limit=3, offset=4)
        eq([d["mac"] for d in j["devices"]], want[4:7], "sort=version, a page by offset")
        eq(j["total"], len(FLEET), "total")
        eq(j["sort"], "version", "the sort is answered")
        lab = [m for m in want if any("lab" in x for x in dict((f[0], f[2]) for f in FLEET)[m])]
        eq(macs(srv, sort="version", filter="tag~lab", limit=1000), lab,
           "sort=version with a filter")
        chip = [m for m in want if m.startswith("5C")]
        eq(macs(srv, sort="-version", filter="chip=esp8266", limit=1000), list(reversed(chip)),
           "sort=-version with a filter matched above the store")
        versions = [d["version"] for d in listing(srv, sort="version", limit=1000)["devices"]]
        check(versions.index("1.10.0") > versions.index("1.9.0"),
              "1.10.0 after 1.9.0: %r" % versions)
        # no sort: the newest seen first (the fleet checked in one after the other)
        eq(macs(srv, limit=1000), [f[0] for f in reversed(FLEET)], "the default order")
        eq(listing(srv, limit=1)["sort"], "-last_seen", "the default sort is answered")
        for bad in ("VERSION", "--version", "ver"):
            j = listing(srv, 400, sort=bad)
            eq(j.get("kind"), "bad-sort", "sort=%r" % bad)
        check("version" in j.get("error", ""), "the error names version: %r" % j)
    finally:
        srv.stop()


def walk(srv, **q):
    """Every device of a listing, a page at a time by the cursors it answers."""
    got, after, pages = [], None, 0
    while True:
        args = dict(q)
        if after:
            args["after"] = after
        j = listing(srv, **args)
        got += [d["mac"] for d in j["devices"]]
        pages += 1
        after = j.get("next")
        if not after or pages > 50:
            return got, j["total"]


def t_paging():
    """after=<next>: every order, with and without a filter, walks the same devices as one
    long page; the cursor is refused with a sentence when it does not fit."""
    srv = Server()
    try:
        fleet(srv)
        srv.set_seen(1000, "mac LIKE '24:%'")
        srv.sql("UPDATE devices SET first_seen_ms=500 WHERE mac LIKE '24:%'")
        # first seen apart from last seen: a first_seen cursor must hold the first-seen time
        srv.sql("UPDATE devices SET first_seen_ms=2000 WHERE mac LIKE '5C:CF:7F:0A:%'")
        for sort in ("", "last_seen", "mac", "-mac", "first_seen", "-first_seen", "version",
                     "-version"):
            for flt in ("", "tag~lab", "mac~0a1b", "chip=esp32,esp8266"):
                whole = listing(srv, sort=sort, filter=flt, limit=1000)
                got, total = walk(srv, sort=sort, filter=flt, limit=3)
                eq(got, [d["mac"] for d in whole["devices"]],
                   "sort=%r filter=%r: pages by cursor" % (sort, flt))
                eq(total, whole["total"], "sort=%r filter=%r: total" % (sort, flt))
                offs = []
                for off in range(0, whole["total"], 3):
                    offs += macs(srv, sort=sort, filter=flt, limit=3, offset=off)
                eq(offs, got, "sort=%r filter=%r: pages by offset" % (sort, flt))
        eq(listing(srv, limit=len(FLEET)).get("next"), None, "the last page has no next")
        j = listing(srv, limit=2)
        check(j.get("next"), "a page with more after it has next: %r" % j)
        bad = listing(srv, 400, limit=2, after=j["next"], offset=2)
        eq(bad.get("kind"), "bad-after", "after with offset")
        bad = listing(srv, 400, limit=2, after=j["next"], sort="mac")
        check("sorted by -last_seen" in bad.get("error", ""), "a cursor of another sort: %r" % bad)
        for junk in ("x", "00", "abc", j["next"][:-2], "7c" * 20):
            bad = listing(srv, 400, limit=2, after=junk)
            eq(bad.get("kind"), "bad-after", "after=%r" % junk)
        # a cursor outlives its row: the device deleted, the next page still follows it
        first = listing(srv, sort="mac", limit=2)
        r = srv.api("DELETE", "/api/v1/devices/" + first["devices"][1]["mac"])
        eq(r.status, 200, "delete a device")
        rest = macs(srv, sort="mac", limit=1000, after=first["next"])
        eq(rest, sorted(m for m, _, _, _ in FLEET)[2:], "after a deleted device")
        # ... and its version: the only device of 1.9.0 or of 0.9.9 gone, the next page
        # starts at the version after it, in either direction
        for sort, mac in (("-version", "5C:CF:7F:0A:1B:2C"), ("version", "5C:CF:7F:99:0A:1B")):
            whole = macs(srv, sort=sort, limit=1000)
            k = whole.index(mac)
            page = listing(srv, sort=sort, limit=k + 1)
            eq(page["devices"][-1]["mac"], mac, "%s: the page ends with %s" % (sort, mac))
            eq(srv.api("DELETE", "/api/v1/devices/" + mac).status, 200, "delete %s" % mac)
            eq(macs(srv, sort=sort, limit=1000, after=page["next"]), whole[k + 1:],
               "%s: after a cursor whose version no device runs any more" % sort)
    finally:
        srv.stop()


SORTS = ("", "last_seen", "-last_seen", "mac", "-mac", "first_seen", "-first_seen", "version",
         "-version")
MAC_RE = re.compile(r"^([0-9A-F]{2}(?::[0-9A-F]{2}){5}) ")


def cli(srv, *args):
    env = dict(t.os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
    p = t.subprocess.run([t.BIN] + list(args), env=env, capture_output=True, text=True,
                         timeout=60)
    return p.returncode, p.stdout, p.stderr


def table(out):
    """The MACs of a device list table, the lines after it, and the next page's command
    (the words of the line the table ends with, or None)."""
    lines = out.splitlines()
    rows = [MAC_RE.match(ln).group(1) for ln in lines if MAC_RE.match(ln)]
    tail = [ln for ln in lines[1:] if not MAC_RE.match(ln)]
    nxt = None
    for i, ln in enumerate(tail):
        if ln.startswith("the next page") and i + 1 < len(tail):
            nxt = shlex.split(tail[i + 1])
    return rows, tail, nxt


def cli_walk(srv, args):
    """Every device a table walk shows: the first page, then each command the page before
    printed, as a user would paste it."""
    got, pages, cmd, tails = [], 0, ["updraft", "device", "list"] + list(args), []
    while cmd:
        eq(cmd[:3], ["updraft", "device", "list"], "the next page's command")
        rc, out, err = cli(srv, *cmd[1:])
        eq((rc, err), (0, ""), "%s" % " ".join(cmd))
        rows, tail, cmd = table(out)
        got += rows
        tails.append(tail)
        pages += 1
        if pages > 20:
            check(False, "the walk %r ends" % (args,))
            break
    return got, tails


def t_cli():
    """updraft device list --sort KEY [--limit N] [--after CURSOR]: a walk that follows the
    command each page prints equals --all and the API's one long page in every order, with
    and without a filter; --json gives the API's answer with next; bad values are refused
    in the CLI's words."""
    srv = Server()
    try:
        fleet(srv)
        # ties in the time orders: four devices seen (and first seen) at the same moment
        srv.set_seen(1000, "mac LIKE '24:%'")
        srv.sql("UPDATE devices SET first_seen_ms=500 WHERE mac LIKE '24:%'")
        for sort in SORTS:
            # with a filter (words the shell must have quoted) in three orders: the cursor
            # does not carry the filter, the printed command does
            for flt in ("", "version>=1.0 seen<1h") if sort in ("", "-version", "first_seen") \
                    else ("",):
                q = {"tool": "none", "limit": 1000}
                args = []
                if sort:
                    q["sort"] = sort
                    args += ["--sort", sort]
                if flt:
                    q["filter"] = flt
                    args += ["--filter", flt]
                want = macs(srv, **q)
                what = "device list %s" % " ".join(args)
                check(len(want) > 3, "%s: a fleet to page through" % what)
                got, tails = cli_walk(srv, args + ["--limit", "3"])
                eq(got, want, "%s: pages by the printed commands" % what)
                eq(len(tails), (len(want) + 2) // 3, "%s: pages" % what)
                check("devices 1-3 of %d" % len(want) in tails[0],
                      "%s: the first page says where it is: %r" % (what, tails[0]))
                left = len(want) - 3 * (len(tails) - 1)
                last = "%d device%s after the cursor, of %d; no more after them" % (
                    left, "" if left == 1 else "s", len(want))
                check(last in tails[-1], "%s: the last page says it is: %r" % (what, tails[-1]))
                rc, out, err = cli(srv, "device", "list", *args, "--all")
                eq((rc, table(out)[0]), (0, want), "%s --all" % what)
                check(table(out)[2] is None, "%s --all: no next page" % what)
                if flt or sort not in ("", "version", "-mac", "first_seen"):
                    continue
                # --json: the API's pages, next the cursor for --after
                rc, out, err = cli(srv, "device", "list", *args, "--limit", "3", "--json")
                j = json.loads(out)
                eq(j.get("sort"), sort or "-last_seen", "%s --json: sort" % what)
                eq(j.get("total"), len(want), "%s --json: total" % what)
                walked = [d["mac"] for d in j["devices"]]
                while j.get("next"):
                    rc, out, err = cli(srv, "device", "list", *args, "--limit", "3", "--json",
                                       "--after", j["next"])
                    eq(rc, 0, "%s --json --after: %s" % (what, err))
                    j = json.loads(out)
                    walked += [d["mac"] for d in j["devices"]]
                eq(walked, want, "%s --json: pages by next" % what)
                rc, out, err = cli(srv, "device", "list", *args, "--all", "--json")
                j = json.loads(out)
                eq(([d["mac"] for d in j["devices"]], j.get("next", "absent"), j["total"]),
                   (want, None, len(want)), "%s --all --json" % what)
        # --offset then --all: the rest by cursor; --after then --all: the rest after it
        order = macs(srv, sort="version", tool="none", limit=1000)
        rc, out, err = cli(srv, "device", "list", "--sort", "version", "--offset", "4", "--all")
        eq(table(out)[0], order[4:], "--offset 4 --all")
        rc, out, err = cli(srv, "device", "list", "--sort", "version", "--limit", "2")
        rows, tail, nxt = table(out)
        cursor = nxt[nxt.index("--after") + 1]
        rc, out, err = cli(srv, "device", "list", "--sort", "version", "--after", cursor, "--all")
        eq(table(out)[0], order[2:], "--after --all")
        # refused, in the CLI's words, with the closest key
        cases = [
            (["--sort", "verison"], 2, "--sort takes last_seen, first_seen, mac or version",
             "did you mean 'version'?"),
            (["--sort", "-lastseen"], 2, "'-lastseen' is not one", "did you mean '-last_seen'?"),
            (["--sort", "size"], 2, "with a '-' before it for the reverse order", "updraft"),
            (["--after", "zz"], 1, "--after takes the cursor a page of 'updraft device list' "
             "printed", "to start over, leave --after out"),
            (["--after", cursor], 1, "--after is a cursor of the listing sorted by version, "
             "not by -last_seen", "ask with --sort version"),
            (["--sort", "mac", "--after", cursor], 1, "sorted by version, not by mac",
             "--sort version"),
            (["--after", cursor, "--offset", "2"], 2, "--after and --offset cannot be used "
             "together", "leave --offset out"),
            (["--after", ""], 2, "--after takes the cursor", "leave --after out"),
            (["--offset", "x"], 2, "--offset takes a number of devices to skip", "updraft"),
            (["--sort"], 2, "--sort needs a value", "updraft"),
        ]
        for args, rc_want, says, says2 in cases:
            rc, out, err = cli(srv, "device", "list", *args)
            check(rc == rc_want and says in err and says2 in err and not out,
                  "device list %r: exit %d saying %r: got %d %r" % (args, rc_want, says, rc, err))
            for w in ("/api/v1", "sort=", "after=", "{\""):
                check(w not in err, "device list %r: no API words (%r): %r" % (args, w, err))
        # the API says which order a refused cursor is of (the CLI's words come from it)
        j = listing(srv, 400, after=cursor)
        eq((j.get("kind"), j.get("cursor_sort")), ("bad-after", "version"), "cursor_sort")
        j = listing(srv, 400, after="zz")
        check("cursor_sort" not in j, "not a cursor: no cursor_sort: %r" % j)
    finally:
        srv.stop()


GROUPS = {"filters": t_filters, "sort": t_sort, "paging": t_paging, "cli": t_cli}

if __name__ == "__main__":
    t.run_group(GROUPS)
