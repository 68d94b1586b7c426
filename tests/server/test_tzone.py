#!/usr/bin/env python3
"""updraft's time zone rules (src/server/tzone.c) and delivery windows (rowindow.c)
against Python's zoneinfo, an implementation of its own over the same tzdata: for a set
of zones, every UTC offset change from 1970 to 2100 is found with zoneinfo (to the
second), and the offset, abbreviation and window membership of updraft are compared one
second before, at and after it, plus every ten minutes for two hours around it and at
noon every 9 days. Past 2037 the files hold no transitions: the footer's POSIX rule
decides there, in both implementations.

usage: test_tzone.py TEST_TZONE_BINARY"""
import subprocess
import sys
from datetime import datetime, timezone

try:
    from zoneinfo import ZoneInfo
except ImportError:
    print("SKIPPED: python3 has no zoneinfo module")
    sys.exit(77)

ZONES = ["Europe/Berlin", "Europe/London", "Europe/Dublin", "America/New_York",
         "America/St_Johns", "America/Santiago", "America/Nuuk", "America/Havana",
         "America/Asuncion", "America/Sao_Paulo", "Australia/Sydney", "Australia/Lord_Howe",
         "Pacific/Chatham", "Pacific/Auckland", "Pacific/Apia", "Asia/Jerusalem",
         "Asia/Tehran", "Africa/Casablanca", "Asia/Kolkata", "UTC"]
START = int(datetime(1970, 1, 1, tzinfo=timezone.utc).timestamp())
END = int(datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp())


def offset(z, t):
    return int(datetime.fromtimestamp(t, z).utcoffset().total_seconds())


def transitions(z):
    """Every instant in START..END at which z's offset changes (found daily, then bisected
    to the second)."""
    out, t, prev = [], START, offset(z, START)
    while t < END:
        n = t + 86400
        o = offset(z, n)
        if o != prev:
            lo, hi = t, n  # offset(lo) == prev != offset(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(z, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
            prev = o
        t = n
    return out


def in_window(local, win):
    a, b = win.split("-")
    start = int(a[:2]) * 60 + int(a[3:])
    end = int(b[:2]) * 60 + int(b[3:])
    m = local.hour * 60 + local.minute
    return start <= m < end if start < end else (m >= start or m < end)


def main():
    binary = sys.argv[1]
    lines, expect = [], []
    ntrans = 0
    for name in ZONES:
        z = ZoneInfo(name)
        tr = transitions(z)
        ntrans += len(tr)
        ts = set()
        for x in tr:
            ts.update((x - 1, x, x + 1))
            ts.update(x + k * 600 for k in range(-12, 13))
        ts.update(range(START + 43200, END, 9 * 86400))
        for t in sorted(ts):
            lines.append("%s %d" % (name, t))
    p = subprocess.run([binary, "--dump"], input="\n".join(lines) + "\n", capture_output=True,
                       text=True, timeout=240)
    if p.returncode == 77:
        print(p.stdout.strip())
        sys.exit(77)
    out = p.stdout.splitlines()
    windows = out[0].split()[1:]
    fails = 0
    checked = 0
    zcache = {}
    for line in out[1:]:
        f = line.split()
        name, t = f[0], int(f[1])
        if f[1] == "error":
            print("FAIL: %s: %s" % (name, line))
            fails += 1
            continue
        z = zcache.setdefault(name, ZoneInfo(name))
        local = datetime.fromtimestamp(t, z)
        want = [str(int(local.utcoffset().total_seconds())), local.tzname()]
        want += [str(int(in_window(local, w))) for w in windows]
        checked += 1
        if f[2:] != want:
            fails += 1
            if fails <= 20:
                print("FAIL: %s at %d (%s UTC): updraft %s, zoneinfo %s" % (
                    name, t, datetime.fromtimestamp(t, timezone.utc).isoformat(), f[2:], want))
    if checked != len(lines):
        print("FAIL: %d lines asked, %d answered (%s)" % (len(lines), checked, p.stderr[-300:]))
        fails += 1
    print("%d zones, %d transitions 1970-2100, %d instants compared, windows %s: %d differ" % (
        len(ZONES), ntrans, checked, " ".join(windows), fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
