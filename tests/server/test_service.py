#!/usr/bin/env python3
"""updraft as a service (issue 14): liveness and readiness probes, Prometheus metrics.
The real `updraft serve` on 127.0.0.1.

usage: test_service.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: health metrics esp32fota config reload notify unit logs"""
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import test_server as t
from test_server import (TOKEN, Server, arduino_bin, check, eq, esp8266_request, events, md5,
                         with_report)


def get(srv, path, method="GET"):
    return srv.raw(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" %
                    (method, path)).encode())


def t_health():
    srv = Server()
    try:
        eq(srv.upload(arduino_bin(seed=401), "1.0", "stable").status, 201, "upload")
        r = get(srv, "/healthz")
        eq((r.status, r.body), (200, b"ok\n"), "/healthz: alive, no token needed")
        r = get(srv, "/readyz")
        eq((r.status, r.body), (200, b"ready\n"), "/readyz: ready")
        r = get(srv, "/readyz", "HEAD")
        eq((r.status, r.body), (200, b""), "HEAD /readyz")
        # the blob store gone: not ready, and it says why
        blobs = os.path.join(srv.data, "blobs", "sha256")
        os.rename(blobs, blobs + ".away")
        try:
            r = get(srv, "/readyz")
            eq(r.status, 503, "/readyz without the blob store: 503")
            check(b"blob store" in r.body and b"cannot be read" in r.body,
                  "/readyz says why: %r" % r.body)
            eq(get(srv, "/healthz").status, 200, "/healthz stays 200 (the process is alive)")
        finally:
            os.rename(blobs + ".away", blobs)
        eq(get(srv, "/readyz").status, 200, "ready again")
    finally:
        srv.stop()


# ---- Prometheus text exposition format 0.0.4, parsed strictly ------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def parse_exposition(text):
    """{family: {"type", "help", "samples": [(name, {labels}, value)]}}; every rule of the
    format that a scraper relies on is checked (and a failure named with its line)."""
    check(text.endswith("\n"), "the exposition ends with a newline")
    fams, order, current = {}, [], None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d %r" % (n, line[:80])
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            check(len(parts) == 4 and re.fullmatch(NAME, parts[2]), where + ": comment syntax")
            if len(parts) < 4:
                continue
            fam = fams.setdefault(parts[2], {"samples": [], "type": None, "help": None})
            key = "help" if parts[1] == "HELP" else "type"
            check(fam[key] is None, where + ": %s given once per family" % parts[1])
            check(not fam["samples"], where + ": %s before the family's samples" % parts[1])
            fam[key] = parts[3]
            if key == "type":
                check(parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"),
                      where + ": a known type")
            if parts[2] not in order:
                order.append(parts[2])
                current = parts[2]
            check(current == parts[2], where + ": a family's lines are together")
            continue
        check(not line.startswith("#") and line.strip() == line and line,
              where + ": a sample line (no blank, no stray comment, no padding)")
        m = SAMPLE.match(line)
        check(m is not None, where + ": sample syntax")
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2), m.group(3)
        try:
            v = float(value)
            check(not math.isnan(v), where + ": a number")
        except ValueError:
            check(False, where + ": value is a number")
            continue
        lab = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or ""))
        fam_name = current
        ftype = fams[fam_name]["type"] if fam_name in fams else None
        check(ftype is not None, where + ": # TYPE before the samples")
        suffixes = SUFFIXES.get(ftype, ("",))
        check(any(name == fam_name + sfx for sfx in suffixes),
              where + ": sample %s belongs to family %s" % (name, fam_name))
        if ftype == "counter":
            check(v >= 0, where + ": a counter is not negative")
        fams[fam_name]["samples"].append((name, lab, v))
    for name, fam in fams.items():
        check(fam["help"] and fam["type"], "%s has # HELP and # TYPE" % name)
        seen = set()
        for sname, lab, _ in fam["samples"]:
            key = (sname, tuple(sorted(lab.items())))
            check(key not in seen, "%s: sample %r given once" % (name, key))
            seen.add(key)
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return fams


def check_histogram(name, samples):
    series = {}
    for sname, lab, v in samples:
        rest = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
        series.setdefault(rest, []).append((sname, lab, v))
    for key, ss in series.items():
        buckets = [(lab["le"], v) for sname, lab, v in ss if sname == name + "_bucket"]
        check(buckets and buckets[-1][0] == "+Inf", "%s%r: the last bucket is +Inf" % (name, key))
        les = [float(le) for le, _ in buckets]
        eq(les, sorted(les), "%s%r: buckets in order of le" % (name, key))
        counts = [v for _, v in buckets]
        eq(counts, sorted(counts), "%s%r: buckets are cumulative" % (name, key))
        count = [v for sname, _, v in ss if sname == name + "_count"]
        total = [v for sname, _, v in ss if sname == name + "_sum"]
        check(len(count) == 1 and len(total) == 1, "%s%r: one _sum, one _count" % (name, key))
        if buckets and count:
            eq(count[0], buckets[-1][1], "%s%r: _count equals the +Inf bucket" % (name, key))


def value(fams, name, **labels):
    """The value of sample name{labels} (0 when absent, which is a failure)."""
    for fam in fams.values():
        for sname, lab, v in fam["samples"]:
            if sname == name and lab == labels:
                return v
    check(False, "%s%r present" % (name, labels))
    return 0


def prometheus_client_parse(text):
    """The reference parser (Debian's python3-prometheus-client) must read it too."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")  # Debian's package, other python
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            print("note: python3-prometheus-client is not installed: only the strict parser "
                  "of this test read the metrics (scripts/install-deps.sh installs it)")
            return None
    return {f.name: f for f in text_string_to_metric_families(text)}


def scrape(srv, port=None, token=TOKEN):
    hdr = "Authorization: Bearer %s\r\n" % token if token else ""
    req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" % hdr
    if port is None:
        return srv.raw(req.encode())
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req.encode())
    r = t.read_response(s, False)
    s.close()
    return r


def metrics(srv, port=None):
    r = scrape(srv, port)
    eq(r.status, 200, "GET /metrics")
    check(r.headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
          "the exposition's Content-Type: %r" % r.headers.get("content-type"))
    text = r.body.decode()
    fams = parse_exposition(text)
    ref = prometheus_client_parse(text)
    if ref is not None:
        for name, fam in fams.items():
            base = name[:-6] if fam["type"] == "counter" and name.endswith("_total") else name
            check(base in ref, "prometheus_client reads family %s" % name)
            if base in ref:
                eq(len(ref[base].samples), len(fam["samples"]),
                   "prometheus_client: the samples of %s" % name)
    return fams


def t_metrics():
    srv = Server(extra=["--device-auth", "fleet:secret"])
    try:
        # the main port: the admin token, counted when missing
        r = scrape(srv, token=None)
        eq(r.status, 401, "/metrics without the token")
        check(b"--metrics-listen" in r.body, "the 401 says how to serve it without a token")
        r = scrape(srv, token="wrong-token-123")
        eq(r.status, 401, "/metrics with a wrong token")
        m0 = metrics(srv)
        eq(value(m0, "updraft_auth_failures_total", who="admin"), 2, "admin auth failures")
        eq(value(m0, "updraft_checks_total", result="offered"), 0, "no check yet")
        check(value(m0, "updraft_build_info", version=m0["updraft_build_info"]["samples"][0][1]
                    .get("version", "?")) == 1, "build info")
        v = subprocess_version()
        eq(m0["updraft_build_info"]["samples"][0][1].get("version"), v,
           "build_info names the binary's version")
        start = value(m0, "updraft_start_time_seconds")
        check(start and abs(start - time.time()) < 60, "start time is now-ish: %r" % start)

        auth = "fleet:secret"
        img = arduino_bin(seed=501)
        rel = srv.upload(img, "2.0", "stable").json
        # offered + a completed download
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E5:01", version="1.0", auth=auth))
        eq(r.status, 200, "offered")
        # current: the device runs the release
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E5:02", md5sum=md5(img),
                                    version="2.0", size=len(img), auth=auth))
        eq(r.status, 304, "current")
        # declined: a downgrade, then no space
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E5:03", version="3.0", auth=auth))
        eq(r.status, 304, "declined: downgrade")
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E5:04", version="1.0", free=1000,
                                    auth=auth))
        eq(r.status, 304, "declined: no space")
        # none: a channel that serves nothing
        r = srv.raw(esp8266_request(srv.port, path="/update/nothing", mac="DE:BA:7A:B1:E5:05",
                                    auth=auth))
        eq(r.status, 304, "none")
        # a device with wrong credentials counts; one without any is a challenge, not a
        # guess, and does not (docs/security.md "Failed authentication")
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E5:06", auth="fleet:wrong"))
        eq(r.status, 401, "device with wrong credentials")
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E5:06"))
        eq(r.status, 401, "device without credentials")
        # outcome reports
        srv.raw(with_report(esp8266_request(srv.port, mac="DE:BA:7A:B1:E5:07", md5sum=md5(img),
                                            version="2.0", size=len(img), auth=auth),
                            "v=1;result=0;md5=%s;version=2.0;rollback=0" % md5(img)))
        srv.raw(with_report(esp8266_request(srv.port, mac="DE:BA:7A:B1:E5:08", version="1.0",
                                            auth=auth), "v=1;result=-106;rollback=0"))
        # a Range download (started, not to the end)
        rng = esp8266_request(srv.port, path="/releases/%d/x.bin" % rel["id"], auth=auth)
        r = srv.raw(rng.replace(b"Content-Length: 0\r\n", b"Range: bytes=0-99\r\n"
                                b"Content-Length: 0\r\n"))
        eq(r.status, 206, "a range")
        events(srv)  # the writer has written what came before
        time.sleep(0.3)  # the completion callback of the last download
        m = metrics(srv)
        eq(value(m, "updraft_checks_total", result="offered"), 2, "checks offered (incl. report)")
        eq(value(m, "updraft_checks_total", result="current"), 2, "checks current")
        eq(value(m, "updraft_checks_total", result="declined"), 2, "checks declined")
        eq(value(m, "updraft_checks_total", result="none"), 1, "checks none")
        eq(value(m, "updraft_declines_total", reason="downgrade"), 1, "declined: downgrade")
        eq(value(m, "updraft_declines_total", reason="no-space"), 1, "declined: no-space")
        eq(value(m, "updraft_offers_total", form="plain"), 2, "offers")
        eq(value(m, "updraft_downloads_total", state="started"), 3, "downloads started")
        eq(value(m, "updraft_downloads_total", state="completed"), 2, "downloads completed")
        eq(value(m, "updraft_download_bytes_total"), 2 * len(img), "bytes of completed ones")
        eq(value(m, "updraft_reports_total", outcome="installed"), 1, "report installed")
        eq(value(m, "updraft_reports_total", outcome="failed"), 1, "report failed")
        eq(value(m, "updraft_auth_failures_total", who="device"), 1, "device auth failures")
        eq(value(m, "updraft_dropped_records_total"), 0, "nothing dropped")
        check(value(m, "updraft_store_seconds_count", op="batch") >= 1,
              "the writer's batches are timed")
        check(value(m, "updraft_store_seconds_count", op="read") >= 1,
              "check-path reads that missed the cache are timed")
        # an open connection (a request under way) is seen
        held = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        held.sendall(b"GET /update HTTP/1.1\r\n")
        time.sleep(0.3)
        m = metrics(srv)
        check(value(m, "updraft_open_connections") >= 2,
              "open connections count the held one and the scrape: %r" %
              value(m, "updraft_open_connections"))
        held.close()
        # the Grafana dashboard asks only for what the server exports
        names = {sname for fam in m.values() for sname, _, _ in fam["samples"]}
        dash = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib",
                            "grafana", "updraft-dashboard.json")
        with open(dash) as f:
            exprs = [tg["expr"] for p in json.load(f)["panels"] for tg in p["targets"]]
        used = {n for e in exprs for n in re.findall(r"updraft_[a-z_]+", e)}
        check(len(used) >= 8, "the dashboard uses the metrics: %r" % sorted(used))
        eq(sorted(used - names), [], "dashboard metrics the server does not export")
    finally:
        srv.stop()

    # --metrics-listen: off the device port, no token there
    srv = Server(extra=["--metrics-listen", "127.0.0.1:0"])
    try:
        mline = [ln for ln in srv.proc.stdout.readline().decode().splitlines()]
        mm = re.match(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", mline[0] if mline else "")
        check(mm, "the metrics address is printed: %r" % mline)
        mport = int(mm.group(1)) if mm else 0
        r = scrape(srv)
        eq(r.status, 404, "/metrics on the device port with --metrics-listen")
        check(b"--metrics-listen" in r.body, "the 404 names where it went: %r" % r.body)
        metrics(srv, mport)
        eq(scrape(srv, mport, token=None).status, 200, "no token on the metrics address")
        s = socket.create_connection(("127.0.0.1", mport), timeout=10)
        s.sendall(b"GET /update HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = t.read_response(s, False)
        s.close()
        eq(r.status, 404, "the metrics address serves no device")
        s = socket.create_connection(("127.0.0.1", mport), timeout=10)
        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = t.read_response(s, False)
        s.close()
        eq((r.status, r.body), (200, b"ready\n"), "/readyz on the metrics address")
    finally:
        srv.stop()
    # a metrics address in use is refused before the server starts
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    with tempfile.TemporaryDirectory(prefix="updraft-test-") as tmp:
        p = subprocess.run([t.BIN, "serve", "--listen", "127.0.0.1:0", "--data",
                            os.path.join(tmp, "data"), "--metrics-listen",
                            "127.0.0.1:%d" % busy.getsockname()[1]],
                           capture_output=True, text=True, timeout=20)
    busy.close()
    check(p.returncode != 0 and "--metrics-listen" in p.stderr,
          "a busy metrics address is refused, naming the option: %r" % p.stderr)


def subprocess_version():
    out = subprocess.run([t.BIN, "--version"], capture_output=True, text=True).stdout
    return out.split()[-1] if out else None


def http_get(port, path, headers=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nConnection: close\r\n%s\r\n" % (path, headers)).encode())
    r = t.read_response(s, False)
    s.close()
    return r


def esp32fota_wants(manifest, fw_type, running):
    """What the esp32FOTA library decides from a manifest (its checkJSONManifest): the
    entry of its firmware type, an integer or semver version newer than the running one,
    and a complete "url" (host/port/bin is its other form, not used by updraft)."""
    entries = manifest if isinstance(manifest, list) else [manifest]
    for e in entries:
        if e.get("type") != fw_type:
            continue
        v = e.get("version")
        if isinstance(v, int):
            v = (v, 0, 0)
        else:
            m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", str(v))
            v = tuple(int(x) for x in m.groups()) if m else (0, 0, 0)
        if isinstance(e.get("url"), str) and v > running:
            return e["url"]
    return None


def t_esp32fota():
    srv = Server(extra=["--device-auth", "fleet:secret"])
    auth = "Authorization: Basic ZmxlZXQ6c2VjcmV0\r\n"  # fleet:secret
    try:
        img = t.esp32_app(seed=701, version="1.4.2")
        rel = srv.upload(img, "1.4.2", "stable").json
        eq(srv.upload(arduino_bin(seed=702), "9.0", "stable").status, 201, "an ESP8266 release")
        host = "Host: updraft.example:8080\r\n"
        r = http_get(srv.port, "/manifest/stable/esp32.json", host)
        eq(r.status, 401, "device auth applies to the manifest")
        r = http_get(srv.port, "/manifest/stable/esp32.json", host + auth)
        eq(r.status, 200, "manifest")
        eq(r.headers.get("content-type"), "application/json", "JSON")
        m = json.loads(r.body)
        eq(m, {"type": "stable", "version": "1.4.2",
               "url": "http://updraft.example:8080" + rel["url"]},
           "the channel's ESP32 release (not the newer ESP8266 one), an absolute URL")
        eq(esp32fota_wants(m, "stable", (1, 4, 1)), m["url"], "esp32FOTA on 1.4.1 updates")
        eq(esp32fota_wants(m, "stable", (1, 4, 2)), None, "esp32FOTA on 1.4.2 does not")
        # the URL serves the release, with the same credentials
        path = m["url"].split("8080", 1)[1]
        r = http_get(srv.port, path, "Host: x\r\n" + auth)
        eq((r.status, md5(r.body)), (200, md5(img)), "the manifest's URL serves the image")
        # the firmware type the sketch uses; esp32FOTA's ?id= is ignored
        r = http_get(srv.port, "/manifest/stable/esp32.json?type=my-fw&id=123456", host + auth)
        eq(json.loads(r.body)["type"], "my-fw", "?type= sets the firmware type")
        # behind a TLS proxy
        r = http_get(srv.port, "/manifest/stable/esp32.json",
                     host + auth + "X-Forwarded-Proto: https\r\n")
        check(json.loads(r.body)["url"].startswith("https://updraft.example:8080/releases/"),
              "X-Forwarded-Proto: https gives an https URL")
        # integer versions (esp32FOTA's older form)
        eq(srv.upload(t.esp32_app(seed=703, version="7"), "7", "ints").status, 201, "upload")
        r = http_get(srv.port, "/manifest/ints/esp32.json", host + auth)
        eq(json.loads(r.body)["version"], 7, "a plain-number version is a JSON number")
        # a channel without an ESP32 release: an empty list, the reason in a header
        r = http_get(srv.port, "/manifest/nothing/esp32.json", host + auth)
        eq((r.status, r.body), (200, b"[]\n"), "no release: []")
        check("nothing" in r.headers.get("x-updraft-reason", ""), "the reason names the channel")
        # bad requests
        eq(http_get(srv.port, "/manifest/stable/esp8266.json", host + auth).status, 404,
           "only esp32.json")
        eq(http_get(srv.port, "/manifest/bad%20name/esp32.json", host + auth).status, 404,
           "bad channel name")
        r = http_get(srv.port, "/manifest/stable/esp32.json", "Host: a/b\r\n" + auth)
        eq(r.status, 400, "a Host that cannot go into a URL")
        check(b"Host" in r.body, "the 400 says it is the Host header: %r" % r.body)
        eq(http_get(srv.port, "/manifest/stable/esp32.json?type=", host + auth).status, 400,
           "empty ?type=")
    finally:
        srv.stop()


SAMPLE_VALUES = {"FORMAT": "json", "LEVEL": "debug", "HOST:PORT": "127.0.0.1:0", "DIR": "/srv/updraft data", "FILE": "/etc/x.pem",
                 "USER:PASS": "fleet:secret", "N": "3", "SECONDS": "45", "MIB": "8",
                 "AGE": "30d", "AGES": "0,15m", "RECORDS": "4096", "URL": "postgres://updraft@db.example/updraft"}


def serve(*args, env=None):
    return subprocess.run([t.BIN, "serve", *args], capture_output=True, text=True, timeout=30,
                          env=env)


def t_config():
    tmp = tempfile.TemporaryDirectory(prefix="updraft-test-")
    conf = os.path.join(tmp.name, "updraft.conf")

    def write(text):
        with open(conf, "w") as f:
            f.write(text)

    # every option of --help has a key, and every key is an option (one table)
    helptext = serve("--help").stdout
    flags = set(re.findall(r"^  (--[a-z-]+)", helptext, re.M)) - {"--config", "--print-config"}
    check(len(flags) >= 12, "serve --help lists its options: %r" % sorted(flags))
    p = serve("--print-config")
    eq(p.returncode, 0, "--print-config")
    keys = dict(re.findall(r"^#?([a-z-]+) = (.*)$", p.stdout, re.M))
    eq(sorted("--" + k for k in keys), sorted(flags), "a configuration key for every option")
    # every key is accepted with a value of its kind, and printed back
    write("# every key\n" + "".join("%s = %s\n" % (k, SAMPLE_VALUES[v]) for k, v in keys.items()))
    p = serve("--config", conf, "--print-config")
    eq(p.returncode, 0, "a file with every key: %s" % p.stderr)
    for k, v in keys.items():
        check("\n%s = %s\n" % (k, SAMPLE_VALUES[v]) in p.stdout, "key %s read and printed" % k)
    # options given on the command line win over the file
    p = serve("--config", conf, "--threads", "7", "--print-config")
    check("\nthreads = 7\n" in p.stdout, "--threads 7 overrides 'threads = 3'")

    # a server started from the file alone
    data = os.path.join(tmp.name, "data")
    write("""# updraft test
listen = 127.0.0.1:0
data = "%s"
threads = 2      # a comment after a value
device-auth = fleet:secret
metrics-listen = 127.0.0.1:0
""" % data)
    srv = Server(extra=["--config", conf, "--device-auth", "cli:pass"])
    try:
        check(any(ln.startswith("config: " + conf) for ln in srv.out),
              "the start says which file it read: %r" % srv.out)
        check(os.path.isdir(os.path.join(data, "blobs")) or True, "data dir")
        eq(srv.raw(esp8266_request(srv.port, auth="fleet:secret")).status, 401,
           "--device-auth on the command line replaces the file's")
        eq(srv.raw(esp8266_request(srv.port, auth="cli:pass")).status, 304,
           "the command line's credentials work")
        line = srv.proc.stdout.readline().decode()
        check(line.startswith("metrics on http://127.0.0.1:"),
              "metrics-listen from the file: %r" % line)
    finally:
        srv.stop()

    # errors name the file and the line, in the file's terms
    for text, want in (
            ("listen = :0\nlisten-address = :8080\n",
             "line 2: unknown key 'listen-address'"),
            ("\n\nthreads = lots\n", "line 3: threads needs a number from 1 to 256"),
            ("keep-events = 3 weeks\n", "line 1: keep-events needs an age"),
            ("threads 4\n", "line 1: expected 'key = value'"),
            ("data =\n", "line 1: data needs a value"),
            ("threads = 2\nthreads = 3\n", "line 2: 'threads' is set twice")):
        write(text)
        p = serve("--config", conf)
        eq(p.returncode, 2, "refused: %r" % text)
        check(("%s %s" % (conf, want)) in p.stderr, "error %r names file and line: %r" % (
            want, p.stderr))
    p = serve("--config", os.path.join(tmp.name, "missing.conf"))
    check(p.returncode == 2 and "cannot read the configuration file" in p.stderr and
          "missing.conf" in p.stderr, "a missing file is named: %r" % p.stderr)
    p = serve("--config")
    check(p.returncode == 2 and "--config needs a value" in p.stderr, "--config without FILE")
    tmp.cleanup()


def make_cert(tmp, name):
    cert, key = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def start(args, env=None):
    """The real server with args; (process, port, stdout lines so far)."""
    e = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
    e.update(env or {})
    p = subprocess.Popen([t.BIN, "serve", "--listen", "127.0.0.1:0", "--threads", "2"] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    lines = []
    while True:
        line = p.stdout.readline().decode()
        if not line:
            raise SystemExit("server did not start: %r %r" % (lines, p.stderr.read()))
        lines.append(line)
        m = re.match(r"listening on https?://127\.0\.0\.1:(\d+)", line)
        if m:
            return p, int(m.group(1)), lines


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    eq(rc, 0, "server exits 0 after SIGTERM")
    err = p.stderr.read().decode()
    p.stdout.close()
    p.stderr.close()
    return err


def t_reload():
    import shutil
    import ssl
    import threading
    if not shutil.which("openssl"):
        print("SKIPPED: no openssl command to make test certificates")
        sys.exit(t.SKIP)
    tmp = tempfile.TemporaryDirectory(prefix="updraft-test-")
    cert, key = os.path.join(tmp.name, "cert.pem"), os.path.join(tmp.name, "key.pem")
    a_cert, a_key = make_cert(tmp.name, "a")
    b_cert, b_key = make_cert(tmp.name, "b")
    _, c_key = make_cert(tmp.name, "c")
    creds = os.path.join(tmp.name, "devices")

    def put(src, dst):
        shutil.copyfile(src, dst + ".new")
        os.replace(dst + ".new", dst)

    def write_creds(text):
        with open(creds + ".new", "w") as f:
            f.write(text)
        os.replace(creds + ".new", creds)

    put(a_cert, cert)
    put(a_key, key)
    write_creds("DE:BA:7A:B1:E9:01 dev1:one\n")
    p, port, _ = start(["--data", os.path.join(tmp.name, "data"), "--tls-cert", cert,
                        "--tls-key", key, "--device-auth-file", creds])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def connect():
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def request(req, sock=None):
        s = sock or connect()
        s.sendall(req)
        r = t.read_response(s, False)
        r.cert = s.getpeercert(binary_form=True)
        if not sock:
            s.close()
        return r

    def der(path):
        with open(path) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())

    def reload(expect):
        """SIGHUP; the log's reload lines (expect of them) on stderr."""
        p.send_signal(signal.SIGHUP)
        got = []
        while len(got) < expect:
            line = p.stderr.readline().decode()
            if not line:
                break
            if " info reload: " in line:
                got.append(line)
        return got

    stop_load = threading.Event()
    try:
        img = arduino_bin(seed=801, irom=700000)
        up = request(("POST /api/v1/releases?version=2.0&channel=stable HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: Bearer %s\r\nConnection: close\r\nContent-Length: %d\r\n"
                      "\r\n" % (TOKEN, len(img))).encode() + img)
        eq(up.status, 201, "upload over HTTPS")
        dev = esp8266_request(port, mac="DE:BA:7A:B1:E9:01", auth="dev1:one", version="1.0")
        r = request(dev)
        eq((r.status, r.cert == der(a_cert)), (200, True), "certificate A, credentials one")

        # load: new TLS connections all the time, none may fail
        fails, done = [], [0]

        def load():
            while not stop_load.is_set():
                try:
                    r = request(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if r.status != 200:
                        fails.append(r.status)
                    done[0] += 1
                except OSError as e:
                    fails.append(repr(e))
        th = threading.Thread(target=load)
        th.start()
        # a download under way (a small receive window keeps it going) over the reload
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        slow.connect(("127.0.0.1", port))
        slow = ctx.wrap_socket(slow, server_hostname="127.0.0.1")
        slow.sendall(esp8266_request(port, mac="DE:BA:7A:B1:E9:01", auth="dev1:one",
                                     version="1.0"))
        first = slow.recv(4096)
        check(first.startswith(b"HTTP/1.1 200") or first.startswith(b"HTTP/1.0 200"),
              "the download started: %r" % first[:40])

        put(b_cert, cert)
        put(b_key, key)
        write_creds("DE:BA:7A:B1:E9:01 dev1:two\n")
        time.sleep(0.3)
        got = reload(2)
        check(any("reload: TLS certificate" in g for g in got) and
              any("reload: device credentials" in g for g in got),
              "the log says what reloaded: %r" % got)

        # the download under way finishes, byte for byte
        rest = first
        while True:
            chunk = slow.recv(65536)
            if not chunk:
                break
            rest += chunk
        slow.close()
        body = rest.partition(b"\r\n\r\n")[2]
        eq((len(body), md5(body)), (len(img), md5(img)), "the download under way completed")
        r = request(dev)
        eq((r.status, r.cert == der(b_cert)), (401, True),
           "new handshakes get certificate B; the old credentials are refused")
        r = request(esp8266_request(port, mac="DE:BA:7A:B1:E9:01", auth="dev1:two",
                                    version="1.0"))
        eq(r.status, 200, "the new credentials are accepted")

        # a reload that fails keeps what is in force
        put(c_key, key)  # not certificate B's key
        write_creds("this is not a credentials line\n")
        time.sleep(0.3)
        reload(0)
        time.sleep(1.0)
        r = request(esp8266_request(port, mac="DE:BA:7A:B1:E9:01", auth="dev1:two",
                                    version="1.0"))
        eq((r.status in (200, 304), r.cert == der(b_cert)), (True, True),
           "after a failed reload: certificate B and credentials two still in force (%d)" %
           r.status)
        stop_load.set()
        th.join()
        eq(fails, [], "no request failed during the reloads (%d made)" % done[0])
        check(done[0] > 10, "the load ran: %d requests" % done[0])
        eq(p.poll(), None, "the same process serves on (no restart)")
    finally:
        stop_load.set()
        err = stop(p)
    check("TLS certificate not reloaded" in err and "is not the key of the certificate" in err,
          "a failed TLS reload is said: %r" % err[-600:])
    check("device credentials not reloaded" in err and "line 1" in err,
          "a failed credentials reload names the line: %r" % err[-600:])


def t_notify():
    tmp = tempfile.TemporaryDirectory(prefix="updraft-test-")
    path = os.path.join(tmp.name, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    data = os.path.join(tmp.name, "data")
    p, port, _ = start(["--data", data],
                       env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})

    def messages(seconds):
        out, end = [], time.time() + seconds
        while time.time() < end:
            sock.settimeout(max(0.01, end - time.time()))
            try:
                out.append(sock.recv(4096).decode())
            except socket.timeout:
                break
        return out

    def wait_for(what, seconds=5):
        end = time.time() + seconds
        seen = []
        while time.time() < end:
            m = messages(end - time.time())
            seen += m
            if any(what in x for x in m):
                return seen
        check(False, "%r sent to NOTIFY_SOCKET (got %r)" % (what, seen))
        return seen

    try:
        seen = wait_for("READY=1")
        check(any("STATUS=listening on http://127.0.0.1:%d" % port in m for m in seen),
              "READY=1 with the address in STATUS: %r" % seen)
        m = messages(1.0)
        check(m.count("WATCHDOG=1") >= 3, "the watchdog is fed every half interval: %r" % m)
        # not ready: the watchdog is no longer fed (systemd restarts the server)
        blobs = os.path.join(data, "blobs", "sha256")
        os.rename(blobs, blobs + ".away")
        time.sleep(0.3)
        m = messages(1.0)
        eq(m.count("WATCHDOG=1"), 0, "no watchdog while not ready (blob store gone)")
        os.rename(blobs + ".away", blobs)
        wait_for("WATCHDOG=1", 2)
        p.send_signal(signal.SIGHUP)
        seen = wait_for("READY=1")
        check(any("RELOADING=1" in x for x in seen), "SIGHUP: RELOADING=1 then READY=1: %r" % seen)
        p.send_signal(signal.SIGTERM)
        wait_for("STOPPING=1")
    finally:
        if p.poll() is None:
            stop(p)
        else:
            eq(p.wait(), 0, "exit status 0")
        sock.close()


UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib", "systemd",
                    "updraft.service")


def t_unit():
    """contrib/systemd/updraft.service: systemd reads it without a complaint, its sandbox
    rates "OK" or better, and it runs the binary the way the rest of this file tests."""
    import shutil
    if not shutil.which("systemd-analyze"):
        print("SKIPPED: no systemd-analyze (Debian package systemd) to check the unit with")
        sys.exit(t.SKIP)
    with open(UNIT) as f:
        unit = f.read()
    keys = dict(re.findall(r"^([A-Za-z]+)=(.*)$", unit, re.M))
    eq(keys.get("Type"), "notify", "Type=notify")
    check(keys.get("WatchdogSec"), "a watchdog")
    eq(keys.get("ExecReload"), "/bin/kill -HUP $MAINPID", "reload is SIGHUP")
    m = re.match(r"/usr/bin/updraft serve --config (\S+)$", keys.get("ExecStart", ""))
    check(m and m.group(1) == "/etc/updraft/updraft.conf", "ExecStart reads the packaged config")
    for k, v in (("User", "updraft"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                 ("ReadWritePaths", "/var/lib/updraft"), ("PrivateTmp", "yes")):
        eq(keys.get(k), v, "hardening: %s" % k)
    tmp = tempfile.TemporaryDirectory(prefix="updraft-test-")
    local = os.path.join(tmp.name, "updraft.service")
    with open(local, "w") as f:
        f.write(unit.replace("/usr/bin/updraft", os.path.abspath(t.BIN)))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", local], capture_output=True,
                       text=True, timeout=60)
    eq((p.returncode, p.stdout + p.stderr), (0, ""), "systemd-analyze verify")
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", local],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for updraft.service: ([0-9.]+)", p.stdout)
    check(m and float(m.group(1)) <= 2.0,
          "systemd-analyze security: exposure 2.0 or less: %r" % (p.stdout[-200:],))
    # the packaged configuration's data directory is the one the unit lets it write
    conf = subprocess.run([t.BIN, "serve", "--data", "/var/lib/updraft", "--print-config"],
                          capture_output=True, text=True).stdout
    check("\ndata = /var/lib/updraft\n" in conf, "the packaged config sets data")


TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) "
                       r"([a-z][a-z-]*): (.*)$")


def t_logs():
    # JSON, debug: every stderr line is one JSON object; a line per check, bounded
    srv = Server(extra=["--log-format", "json", "--log-level", "debug"])
    try:
        img = arduino_bin(seed=901)
        eq(srv.upload(img, "2.0", "stable").status, 201, "upload")
        eq(srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E9:11", version="1.0")).status,
           200, "a check")
        for i in range(40):  # a flood of checks: at most UPD_LOG_BURST lines a minute
            srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:EA:%02X" % i, md5sum=md5(img),
                                    version="2.0", size=len(img)))
    finally:
        srv.stop()
    recs = []
    for ln in srv.stderr.splitlines():
        try:
            recs.append(json.loads(ln))
        except ValueError:
            check(False, "a JSON log line: %r" % ln)
    for r in recs:
        check(set(r) >= {"time", "level", "event", "msg"} and
              re.match(r"\d{4}-\d\d-\d\dT.*Z$", r["time"]), "log record fields: %r" % r)
    events_ = [r["event"] for r in recs]
    for want in ("server-started", "audit", "check", "server-stopping"):
        check(want in events_, "a %s line: %r" % (want, sorted(set(events_))))
    started = [r for r in recs if r["event"] == "server-started"]
    check(started and "listening on http://127.0.0.1:%d" % srv.port in started[0]["msg"],
          "server-started names the address: %r" % started)
    audit = [r for r in recs if r["event"] == "audit"]
    check(audit and "release" in audit[0]["msg"].lower(), "the upload is an audit line: %r" % audit)
    checks = [r for r in recs if r["event"] == "check" and "suppressed" not in r]
    check(checks and "DE:BA:7A:B1:E9:11 offered" in checks[0]["msg"],
          "a check line: MAC, result, why: %r" % checks[:1])
    eq(len(checks), 10, "check lines in a minute (the repeat limit)")
    held = sum(r.get("suppressed", 0) for r in recs if r["event"] == "check")
    eq(held, 31, "what the limit held back is counted (at shutdown)")

    # text, warn: only warnings and errors; each line "TIME LEVEL EVENT: message"
    srv = Server(extra=["--log-level", "warn"])
    try:
        srv.upload(arduino_bin(seed=902), "1.0", "stable")
        srv.raw(esp8266_request(srv.port))
    finally:
        srv.stop()
    eq([ln for ln in srv.stderr.splitlines() if ln], [], "--log-level warn: a quiet server")
    srv = Server()
    try:
        srv.raw(esp8266_request(srv.port))
    finally:
        srv.stop()
    lines = srv.stderr.splitlines()
    for ln in lines:
        check(TEXT_LINE.match(ln), "a text log line: %r" % ln)
    got = [TEXT_LINE.match(ln).group(2) for ln in lines if TEXT_LINE.match(ln)]
    eq(got, ["server-started", "server-stopping"], "info: start and stop, no line per check")
    # bad values, in the option's terms
    for args, want in ((["--log-format", "xml"], "--log-format needs text or json"),
                       (["--log-level", "verbose"], "--log-level needs error, warn, info or debug")):
        p = serve(*args)
        check(p.returncode == 2 and want in p.stderr, "%r refused: %r" % (args, p.stderr))


GROUPS = {"logs": t_logs, "health": t_health, "metrics": t_metrics, "esp32fota": t_esp32fota,
          "config": t_config, "reload": t_reload, "notify": t_notify, "unit": t_unit}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
