#!/usr/bin/env python3
"""Black-box tests of `updraft serve` against what ESP32-family devices really send: the
byte-exact HTTPUpdate requests of the three Arduino-ESP32 core generations, ESP-IDF's
esp_https_ota, and the hashes a device computes over the image it runs (issue 15).

usage: test_esp32.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: modes identity idf chip hashes corpus
The server, image builders and HTTP reader are the ones of test_server.py (same argv).
Groups that need the real firmware corpus (../shared/testdata/firmware) say SKIPPED and
exit with 77 (ctest SKIP_RETURN_CODE) when it is absent."""
import hashlib
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as T  # noqa: E402  (argv: BIN FWDIR GROUP, the same as ours)

eq, check = T.eq, T.check
SKIP = 77

# ---- the requests, as each core generation builds them ------------------------------------
#
# HTTPClient (arduino-esp32 libraries/HTTPClient) writes "GET <uri> HTTP/1.0", Host (with
# ":port" unless 80/443), User-Agent, "Connection: close" (useHTTP10 turns reuse off), then
# the headers HTTPUpdate::handleUpdate added, in its order:
#   2018 (HTTPUpdate.cpp of 16.10.2018): Cache-Control, STA-MAC, AP-MAC, free-space,
#        sketch-size, sketch-sha256 (no md5: "Sketch MD5 is not supported by the core"),
#        chip-size, sdk-version, mode (sketch|spiffs), version when given.
#   2.0.x: as 2018 with sketch-md5 (ESP.getSketchMD5(), when not empty) before sha256.
#   3.x:   BASE-MAC first, STA-MAC and AP-MAC only on chips with WiFi (SOC_WIFI_SUPPORTED),
#          modes sketch|spiffs|fatfs|littlefs|flashfs.
# sketch-md5 is lowercase (MD5Builder), sketch-sha256 UPPERCASE (getSketchSHA256()).

CORES = ("2018", "2.0.x", "3.x")
SDK = {"2018": "v3.2-dev-1055-g3276a1316", "2.0.x": "v4.4.5", "3.x": "v5.3.1-638-ga0f798cfc4"}


def request(core, port, path="/update", mac="24:6F:28:AA:BB:CC", free=1966080, size=900000,
            md5=None, sha=None, chip=4194304, mode="sketch", version=None, wifi=True,
            base=None):
    lines = ["GET %s HTTP/1.0" % path, "Host: 127.0.0.1:%d" % port,
             "User-Agent: ESP32-http-Update", "Connection: close", "Cache-Control: no-cache"]
    if core == "3.x":
        lines.append("x-ESP32-BASE-MAC: %s" % (base or mac))
    if core != "3.x" or wifi:
        ap = "%s%02X" % (mac[:-2], (int(mac[-2:], 16) + 1) & 0xFF)
        lines += ["x-ESP32-STA-MAC: %s" % mac, "x-ESP32-AP-MAC: %s" % ap]
    lines += ["x-ESP32-free-space: %d" % free, "x-ESP32-sketch-size: %d" % size]
    if md5 and core != "2018":
        lines.append("x-ESP32-sketch-md5: %s" % md5.lower())
    if sha:
        lines.append("x-ESP32-sketch-sha256: %s" % sha.upper())
    lines += ["x-ESP32-chip-size: %d" % chip, "x-ESP32-sdk-version: %s" % SDK[core],
              "x-ESP32-mode: %s" % mode]
    if version:
        lines.append("x-ESP32-version: %s" % version)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def idf_request(port, path="/update", method="GET", rng=None):
    """esp_http_client's request as esp_https_ota sends it (esp32-ota.md 3)."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port,
             "User-Agent: ESP32 HTTP Client/1.0"]
    if rng:
        lines.append("Range: %s" % rng)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def littlefs_image(blocks=16):
    """A LittleFS superblock and erased blocks (what the inspector calls a filesystem)."""
    sb = bytearray(b"\xff" * (4096 * blocks))
    sb[0:32] = bytes(32)
    sb[8:16] = b"littlefs"
    sb[24:28] = (4096).to_bytes(4, "little")
    sb[28:32] = blocks.to_bytes(4, "little")
    return bytes(sb)


def device(srv, mac):
    r = srv.api("GET", "/api/v1/devices/" + mac)
    return r.json if r.status == 200 else None


# ---- ESP32 images as a device measures them ------------------------------------------------

def image_len(data):
    """The length esp_image_verify measures: header, segments, checksum padding, and the
    appended SHA-256 when byte 23 says so; nothing after that."""
    nseg = data[1]
    pos = 24
    for _ in range(nseg):
        _, ln = struct.unpack_from("<II", data, pos)
        pos += 8 + ln
    pos += 16 - pos % 16  # checksum byte at the end of the 16-byte padding
    if data[23] == 1:
        pos += 32
    return pos


def device_hashes(data):
    """What Arduino-ESP32 reports after installing data: (sketch-size, sketch-md5,
    sketch-sha256) = (image_len, MD5 of image_len bytes, appended digest or SHA-256 of
    image_len bytes)."""
    n = image_len(data)
    img = data[:n]
    sha = img[-32:].hex() if data[23] == 1 else hashlib.sha256(img).hexdigest()
    return n, hashlib.md5(img).hexdigest(), sha


# ---- groups ----------------------------------------------------------------------------------

def t_modes():
    """Point 3: the filesystem modes of 3.x are filesystem updates, never a 400 (-104)."""
    srv = T.Server()
    try:
        app = T.esp32_app(seed=31, version="1.0.0")
        eq(srv.upload(app, "1.0.0", "stable").status, 201, "upload ESP32 app")
        for i, mode in enumerate(("fatfs", "littlefs", "flashfs", "spiffs")):
            r = srv.raw(request("3.x", srv.port, mac="24:6F:28:00:01:%02X" % i, mode=mode,
                                version="1.0.0"))
            eq(r.status, 304, "3.x mode %s without a filesystem release: 304, not 400" % mode)
            check("filesystem" in r.headers.get("x-updraft-reason", ""),
                  "mode %s asks for a filesystem release: %r" % (mode, r.headers))
        fs = littlefs_image()
        rel = srv.upload(fs, "1.1.0", "stable")
        eq(rel.status, 201, "upload a LittleFS image")
        eq(rel.json and rel.json.get("mode"), "fs", "the LittleFS image is a filesystem release")
        for i, mode in enumerate(("fatfs", "littlefs", "flashfs", "spiffs", "LittleFS")):
            r = srv.raw(request("3.x", srv.port, mac="24:6F:28:00:02:%02X" % i, mode=mode,
                                version="1.0.0"))
            eq(r.status, 200, "3.x mode %s: the filesystem release is offered" % mode)
            check(r.body == fs, "mode %s: the body is the filesystem image" % mode)
        # sketch mode on the same device still gets the app logic (it runs 1.0.0)
        r = srv.raw(request("3.x", srv.port, mac="24:6F:28:00:02:00", version="1.0.0"))
        eq(r.status, 304, "3.x sketch mode, same version: 304")
        r = srv.raw(request("3.x", srv.port, mac="24:6F:28:00:03:00", mode="ota"))
        eq(r.status, 400, "an unknown mode is still refused")
        check(b"littlefs" in r.body, "the refusal lists the modes: %r" % r.body)
    finally:
        srv.stop()


def t_identity():
    """Point 4: x-ESP32-BASE-MAC identifies chips without WiFi; STA wins when both come."""
    srv = T.Server()
    try:
        app = T.esp32_app(seed=41, chip=16, version="2.0.0")  # ESP32-H2 app
        eq(srv.upload(app, "2.0.0", "stable").status, 201, "upload ESP32-H2 app")
        h2 = "60:55:F9:00:00:01"
        r = srv.raw(request("3.x", srv.port, mac=h2, wifi=False, version="1.0.0"))
        eq(r.status, 200, "ESP32-H2 (BASE-MAC only) gets the release")
        d = device(srv, h2)
        check(d is not None, "the H2 is registered under its base MAC")
        eq(d and d["platform"], "esp32", "H2 platform")
        r = srv.raw(request("3.x", srv.port, mac=h2, wifi=False, version="2.0.0"))
        eq(r.status, 304, "the H2 running the release: 304")
        ev = T.events(srv, h2)
        check(any(e["kind"] == "offered" for e in ev), "the offer to the H2 is recorded: %r" % ev)
        # 3.x on a WiFi chip: STA and BASE differ (a custom base MAC): the STA MAC is the key
        sta, base = "24:6F:28:00:00:10", "02:00:00:00:00:10"
        r = srv.raw(request("3.x", srv.port, mac=sta, base=base, version="2.0.0"))
        eq(r.status, 304, "3.x with STA and BASE: answered")
        check(device(srv, sta) is not None, "registered under the STA MAC")
        check(device(srv, base) is None, "not under the base MAC")
        # the static layout names the device by its base MAC
        r = srv.raw(request("3.x", srv.port, path="/fw/6055F9000002.bin", mac="60:55:F9:00:00:02",
                            wifi=False, version="1.0.0"))
        eq(r.status, 200, "/fw/<BASE-MAC>.bin with a 3.x H2 request: the image")
        check(r.body == app, "/fw/<BASE-MAC>.bin body")
        r = srv.raw(request("3.x", srv.port, path="/fw/6055F9000003.bin", mac="60:55:F9:00:00:04",
                            wifi=False))
        eq(r.status, 403, "/fw/<MAC>.bin naming another device: 403")
        # every generation registers under its STA MAC
        for i, core in enumerate(CORES):
            mac = "24:6F:28:00:01:%02X" % i
            r = srv.raw(request(core, srv.port, mac=mac, version="2.0.0"))
            eq(r.status, 304, "%s request answered" % core)
            d = device(srv, mac)
            check(d is not None and d["sdk"] == SDK[core], "%s registered with its SDK: %r"
                  % (core, d))
    finally:
        srv.stop()


def t_idf():
    """Point 6: esp_https_ota on /update never gets a 304 (a 0-byte image to IDF v4.4-v5.4,
    which with bulk_flash_erase wipes the passive slot), but the redirect without Location
    that stops every version in esp_https_ota_begin()."""
    srv = T.Server()
    try:
        for method in ("GET", "HEAD"):
            r = srv.raw(idf_request(srv.port, method=method))
            eq(r.status, 302, "%s /update, nothing to install: 302" % method)
            check("location" not in r.headers, "%s: no Location header: %r" % (method, r.headers))
            check(r.headers.get("x-updraft-reason"), "%s: the reason is given" % method)
        r = srv.raw(idf_request(srv.port, path="/update/beta"))
        eq(r.status, 302, "/update/<channel> without a release: 302")
        check(b"esp_https_ota" in r.body and b"/releases/" in r.body,
              "the body tells a human where such devices belong: %r" % r.body)
        # the static layout too: never a 404 (erases the slot of IDF v4.1 and older)
        r = srv.raw(idf_request(srv.port, path="/fw/246F28AABB01.bin"))
        eq(r.status, 302, "esp_https_ota on /fw/<MAC>.bin with nothing to send: 302")
        check("location" not in r.headers, "/fw: no Location")
        c3 = T.esp32_app(seed=51, chip=5, version="3.0.0")
        rel = srv.upload(c3, "3.0.0", "stable").json
        r = srv.raw(idf_request(srv.port))
        T.check_image_response(r, c3, "3.0.0", "esp_https_ota GET /update with a release")
        r = srv.raw(idf_request(srv.port, rng="bytes=0-1023"))
        eq((r.status, r.body), (206, c3[:1024]), "esp_https_ota partial download from /update")
        # an image too big for any ESP32 is refused: still never a 304
        r = srv.raw(idf_request(srv.port, path="/update/none"))
        eq(r.status, 302, "empty channel: 302")
        # the immutable URL is the recommended one and is untouched
        r = srv.raw(idf_request(srv.port, path=rel["url"]))
        T.check_image_response(r, c3, "3.0.0", "esp_https_ota on /releases/<id>")
        # Arduino clients keep their 304
        r = srv.raw(request("2.0.x", srv.port, path="/update/none", version="1.0"))
        eq(r.status, 304, "Arduino-ESP32 on an empty channel: 304")
        # doctor --as esp-idf reads the answer the same way
        env = dict(os.environ, UPDRAFT_TOKEN=T.TOKEN)
        p = subprocess.run([T.BIN, "doctor", "http://127.0.0.1:%d/update/none" % srv.port,
                            "--as", "esp-idf", "--no-probes"], capture_output=True, text=True,
                           env=env, timeout=60)
        check(p.returncode == 0 and "before anything is erased" in p.stdout,
              "doctor --as esp-idf: the 302 is a safe no-update: %r %r" % (p.stdout, p.stderr))
    finally:
        srv.stop()


def variants(data, name):
    """The forms a release file of this image takes in the wild, each with the image a
    device holds after installing it: as built; padded with 4 KB of 0xFF (a hello-world
    app padded to a sector: seen looping); followed by a secure-boot-v2-like signature
    sector at the next 4 KB boundary; and the image with its SHA-256 appended when it has
    none, or without it when it has one (byte 23 and the last 32 bytes)."""
    n = image_len(data)
    img = data[:n]
    out = [(name, data), (name + "+ff4k", data + b"\xff" * 4096)]
    sig_at = (n + 4095) // 4096 * 4096
    out.append((name + "+sigblock", img + b"\xff" * (sig_at - n) + b"\xe7" + bytes(range(255)) * 16))
    if data[23] == 1:
        bare = bytearray(img[:-32])
        bare[23] = 0
        out.append((name + "-sha", bytes(bare)))
    else:
        full = bytearray(img)
        full[23] = 1
        full += hashlib.sha256(bytes(full)).digest()
        out.append((name + "+sha", bytes(full)))
    return out


def check_runs(srv, data, name, channel, mac_base):
    """A device of each core generation that installed data reports its hashes: 304."""
    size, md5, sha = device_hashes(data)
    for i, core in enumerate(CORES):
        mac = "%s:%02X" % (mac_base, i)
        r = srv.raw(request(core, srv.port, path="/update/" + channel, mac=mac, size=size,
                            md5=md5, sha=sha))
        eq(r.status, 304, "%s: a %s core running it (md5 %s, sha256 %s...) gets 304"
           % (name, core, md5 if core != "2018" else "-", sha[:12]))
        check("up to date" in r.headers.get("x-updraft-reason", ""),
              "%s/%s: recognised as the release: %r" % (name, core, r.headers.get("x-updraft-reason")))
        if core == "2.0.x":
            # Esp.cpp's getSketchMD5() returned "" (read error): the sha256 alone must do
            r = srv.raw(request(core, srv.port, path="/update/" + channel, mac=mac, size=size,
                                sha=sha))
            eq(r.status, 304, "%s: 2.0.x whose MD5 came back empty, sha256 only: 304" % name)


def run_variants(srv, images):
    """Upload every variant of every image on its own channel, offer it to a 2.0.x device,
    and check what a device reports after installing it: 304 for every core, the offer
    closed as 'updated', the release found by its device hashes."""
    k = 0
    for data, name in images:
        for vname, v in variants(data, name):
            k += 1
            ch = "v%d" % k
            r = srv.upload(v, "9.%d" % k, ch, filename=vname + ".bin")
            eq(r.status, 201, "%s: accepted" % vname)
            if r.status != 201:
                continue
            rel = r.json
            size, md5, sha = device_hashes(v)
            hashes = [h["hex"] for h in rel.get("device_hashes", [])]
            check(md5 in hashes and sha in hashes,
                  "%s: the release lists the image-length MD5 and the device SHA-256: %r"
                  % (vname, rel.get("device_hashes")))
            check_runs(srv, v, vname, ch, "24:6F:%02X:%02X:00" % (k // 256, k % 256))
            # the whole life of an update: offered, installed, reported, not offered again
            mac = "24:6F:%02X:%02X:01:00" % (k // 256, k % 256)
            r = srv.raw(request("2.0.x", srv.port, path="/update/" + ch, mac=mac, md5="0" * 32,
                                sha="0" * 64, version="0.1", free=max(1966080, len(v) + 4096)))
            eq(r.status, 200, "%s: offered to a device running something else" % vname)
            check(r.body == v, "%s: the whole file is served" % vname)
            for _ in range(2):  # reboot, check, reboot, check
                r = srv.raw(request("2.0.x", srv.port, path="/update/" + ch, mac=mac,
                                    size=size, md5=md5, sha=sha, version="0.1"))
                eq(r.status, 304, "%s: after installing it, never offered again" % vname)
            ev = T.events(srv, mac, "updated")
            check(len(ev) == 1 and ev[0]["release"] == rel["id"],
                  "%s: the offer is closed as updated: %r" % (vname, ev))


def t_hashes():
    """Points 1 and 2 on synthetic images (a fresh clone has no corpus)."""
    srv = T.Server()
    try:
        images = [(T.esp32_app(seed=61, version="1.0"), "esp32"),
                  (T.esp32_app(seed=62, chip=5, version="1.0"), "esp32c3")]
        run_variants(srv, images)
        # chip detection by the sha256 alone (2018 core): a C3 that runs our C3 release
        # is never offered an ESP32 image
        c3 = images[1][0]
        size, _, sha = device_hashes(c3 + b"\xff" * 4096)
        eq(srv.upload(T.esp32_app(seed=63, version="5.0"), "5.0", "classic").status, 201,
           "upload an ESP32 image")
        r = srv.raw(request("2018", srv.port, path="/update/classic", mac="24:6F:28:0C:03:00",
                            size=size, sha=sha))
        eq(r.status, 304, "2018 core on a C3 (known by its appended digest): no ESP32 image")
        check("ESP32-C3" in r.headers.get("x-updraft-reason", ""),
              "the refusal names the chip: %r" % r.headers.get("x-updraft-reason"))
    finally:
        srv.stop()


def corpus_rows():
    path = os.path.join(T.FWDIR, "MANIFEST.tsv")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, ln.rstrip("\n").split("\t"))) for ln in f]


def t_corpus():
    """Points 1 and 2 on the real ESP32-family apps of the corpus and their variants."""
    rows = corpus_rows()
    if rows is None:
        print("SKIPPED: the real firmware corpus is not at %s (a user's clone has no "
              "../shared/testdata/firmware); group 'hashes' covers the rules on synthetic "
              "images" % T.FWDIR)
        return SKIP
    images = [(open(os.path.join(T.FWDIR, r["file"]), "rb").read(), r["file"][:40])
              for r in rows if r["kind"] == "esp32-app"]
    check(len(images) >= 5, "the corpus has its ESP32 apps (%d)" % len(images))
    srv = T.Server()
    try:
        run_variants(srv, images)
    finally:
        srv.stop()


def wait_for(what, fn, tries=200):
    for _ in range(tries):
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    check(False, "timed out waiting for " + what)
    return None


def cli(srv, *args):
    env = dict(os.environ, UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=T.TOKEN)
    p = subprocess.run([T.BIN] + list(args), capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


def t_chip():
    """Point 5: wrong chip within the family. The client finds out only after erasing and
    writing the whole slot (Update error 9), so the server must not offer it."""
    srv = T.Server(extra=["--failure-backoff", "0,1h"])
    try:
        e32 = T.esp32_app(seed=71, version="1.0")
        c3 = T.esp32_app(seed=72, chip=5, version="2.0")
        r32 = srv.upload(e32, "1.0", "classic").json
        rc3 = srv.upload(c3, "2.0", "mixed").json
        eq(rc3["chip"], "ESP32-C3", "the C3 release knows its chip")
        size, md5, sha = device_hashes(e32)
        # a device that runs the ESP32 release, each core generation (2018: sha256 only)
        for i, core in enumerate(CORES):
            mac = "24:6F:28:0C:00:%02X" % i
            r = srv.raw(request(core, srv.port, path="/update/mixed", mac=mac, size=size,
                                md5=md5, sha=sha, version="1.0"))
            eq(r.status, 304, "%s core known to be an ESP32: no C3 image" % core)
            reason = r.headers.get("x-updraft-reason", "")
            check("ESP32-C3" in reason and "error 9" in reason
                  and "it runs release %d" % r32["id"] in reason,
                  "%s: the refusal names both chips, error 9 and the evidence: %r" % (core, reason))
        # known to have run: the last check said ESP32; now it runs a local build
        mac = "24:6F:28:0C:01:00"
        r = srv.raw(request("2.0.x", srv.port, path="/update/classic", mac=mac, size=size,
                            md5=md5, sha=sha, version="1.0"))
        eq(r.status, 304, "runs the ESP32 release")
        device(srv, mac)  # the registry has written that check
        r = srv.raw(request("2.0.x", srv.port, path="/update/mixed", mac=mac, md5="1" * 32,
                            sha="2" * 64, version="1.1-local"))
        eq(r.status, 304, "a device that ran an ESP32 release, now on a local build: no C3")
        check("it ran release %d" % r32["id"] in r.headers.get("x-updraft-reason", ""),
              "the evidence is what it ran: %r" % r.headers.get("x-updraft-reason"))
        # chip unknown: offered; the failure it gets (downloaded, still on its old image) is
        # held back like any failure (issue 8's back-off), never offered forever
        mac, old = "24:6F:28:0C:02:00", ("3" * 32, "4" * 64)
        for k in range(3):
            n = len(T.events(srv, mac, "download-completed"))
            r = srv.raw(request("2.0.x", srv.port, path="/update/mixed", mac=mac, md5=old[0],
                                sha=old[1], version="1.1"))
            if r.status != 200:
                break
            wait_for("download %d" % k, lambda: len(T.events(srv, mac, "download-completed")) > n)
        r = srv.raw(request("2.0.x", srv.port, path="/update/mixed", mac=mac, md5=old[0],
                            sha=old[1], version="1.1"))
        eq(r.status, 304, "unknown chip, failed repeatedly: held back")
        check("failed on this device" in r.headers.get("x-updraft-reason", ""),
              "held for its failures: %r" % r.headers.get("x-updraft-reason"))

        # a channel declared for a chip takes only that chip's releases
        r = srv.api("PUT", "/api/v1/channels/c3", {"chip": "esp32c3"})
        eq((r.status, r.json and r.json.get("chip")), (200, "ESP32-C3"), "declare c3 for ESP32-C3")
        r = srv.api("PUT", "/api/v1/channels/c3", {"release": r32["id"]})
        eq((r.status, r.json and r.json.get("kind")), (409, "wrong-chip"),
           "an ESP32 release on the C3 channel: 409")
        check("declared for ESP32-C3" in (r.json or {}).get("error", ""),
              "the refusal says why: %r" % r.json)
        nrel = len(srv.api("GET", "/api/v1/releases").json["releases"])
        r = srv.upload(T.esp32_app(seed=73, version="1.1"), "1.1", "c3")
        eq((r.status, r.json and r.json.get("kind")), (409, "wrong-chip"),
           "uploading an ESP32 image to the C3 channel: 409")
        eq(len(srv.api("GET", "/api/v1/releases").json["releases"]), nrel,
           "the refused upload left no release behind")
        r = srv.upload(T.arduino_bin(seed=74), "1.2", "c3")
        eq(r.status, 409, "an ESP8266 image on the C3 channel: 409")
        r = srv.api("PUT", "/api/v1/channels/c3", {"release": rc3["id"]})
        eq((r.status, r.json.get("chip"), r.json.get("release")), (200, "ESP32-C3", rc3["id"]),
           "the C3 release on the C3 channel")
        r = srv.upload(littlefs_image(), "3.0", "c3")
        eq(r.status, 201, "a filesystem image is not chip-bound")
        r = srv.api("PUT", "/api/v1/channels/c3", {"chip": "esp32"})
        eq(r.status, 409, "cannot re-declare a channel that serves a C3 release for ESP32")
        check("ESP32-C3" in (r.json or {}).get("error", ""), "says which release: %r" % r.json)
        r = srv.api("PUT", "/api/v1/channels/c3", {"chip": "esp32x9"})
        eq(r.status, 400, "not a chip: 400")
        r = srv.api("PUT", "/api/v1/channels/classic", {"release": r32["id"], "chip": "esp32"})
        eq((r.status, r.json.get("chip")), (200, "ESP32"), "set and declare in one call")
        chans = srv.api("GET", "/api/v1/channels").json["channels"]
        eq(sorted({(c["name"], c["chip"]) for c in chans if c["name"] in ("c3", "classic", "mixed")}),
           [("c3", "ESP32-C3"), ("classic", "ESP32"), ("mixed", None)],
           "channel list shows the declarations")
        # a device known to be an ESP32 asking the C3 channel: told what to do
        r = srv.raw(request("3.x", srv.port, path="/update/c3", mac="24:6F:28:0C:03:00",
                            size=size, md5=md5, sha=sha, version="1.0"))
        eq(r.status, 304, "known ESP32 on the C3 channel: 304")
        check("channel 'c3' is declared for ESP32-C3 devices" in r.headers.get("x-updraft-reason", ""),
              "the reason says the channel's chip: %r" % r.headers.get("x-updraft-reason"))
        # a C3 of unknown image on the declared channel gets its release
        r = srv.raw(request("3.x", srv.port, path="/update/c3", mac="24:6F:28:0C:04:00",
                            version="1.0"))
        eq(r.status, 200, "device on the C3 channel: offered the C3 release")
        r = srv.api("PUT", "/api/v1/channels/c3", {"chip": None})
        eq((r.status, r.json.get("chip")), (200, None), "the declaration cleared")
        ev = T.events(srv, kind="channel-chip")
        check(len(ev) >= 3, "declarations are events: %r" % ev)

        # doctor --as esp32 explains it: the request does not say the chip; a device of
        # another chip fails with error 9 after erasing and writing its whole slot
        url = "http://127.0.0.1:%d/update/c3" % srv.port
        rc, out, err = cli(srv, "doctor", url, "--as", "esp32", "--mac", "24:6F:28:0D:00:01",
                           "--chip", "esp32", "--version", "1.0", "--no-probes")
        check(rc == 1 and "9 UPDATE_ERROR_ACTIVATE" in out
              and "erases and writes its whole OTA slot" in out
              and "updraft channel chip CHANNEL" in out,
              "doctor --as esp32 --chip esp32 on a C3 image: %r %r" % (out, err))
        rc, out, err = cli(srv, "doctor", url, "--as", "esp32", "--mac", "24:6F:28:0D:00:02",
                           "--version", "1.0", "--no-probes")
        check(rc == 0 and "does not say the device's chip" in out
              and "updraft channel chip CHANNEL ESP32-C3" in out,
              "doctor --as esp32 without --chip notes what a device of another chip gets: %r %r"
              % (out, err))

        # the CLI
        rc, out, err = cli(srv, "channel", "chip", "c3", "esp32c3")
        check(rc == 0 and "declared for ESP32-C3" in out, "channel chip: %r %r" % (out, err))
        rc, out, err = cli(srv, "channel", "set", "c3", str(r32["id"]))
        check(rc == 1 and "declared for ESP32-C3" in err, "CLI refusal: %r %r" % (out, err))
        rc, out, err = cli(srv, "channel", "set", "dev-c3", str(rc3["id"]), "--chip", "esp32c3",
                         "--create")
        check(rc == 0 and "declared for ESP32-C3 devices" in out, "set --chip: %r %r" % (out, err))
        rc, out, err = cli(srv, "channel", "chip", "c3", "esp32x9")
        check(rc == 2 and "not an ESP32-family chip" in err, "bad chip: %r" % err)
        rc, out, err = cli(srv, "channel", "list")
        check(rc == 0 and "CHIP" in out and "ESP32-C3" in out, "channel list: %r" % out)
        rc, out, err = cli(srv, "channel", "chip", "c3", "-")
        check(rc == 0 and "declares no chip" in out, "chip -: %r %r" % (out, err))
    finally:
        srv.stop()


def t_doctorloop():
    """doctor --as esp32 sees the loop these hashes cause: a plain file server offers a
    padded ESP32 image again after every install; updraft does not."""
    import http.server
    import threading
    img = T.esp32_app(seed=81, version="4.0") + b"\xff" * 4096

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(img)))
            self.end_headers()
            self.wfile.write(img)

        def log_message(self, *a):
            pass

    static = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=static.serve_forever, daemon=True).start()
    srv = T.Server()
    try:
        eq(srv.upload(img, "4.0", "stable").status, 201, "upload the padded image")
        size, md5, sha = device_hashes(img)
        for url, want_rc, want in (
                ("http://127.0.0.1:%d/firmware.bin" % static.server_address[1], 1,
                 "after installing the image the device reports sketch-md5 %s" % md5),
                ("http://127.0.0.1:%d/update" % srv.port, 0,
                 "no update loop: after installing it the device reports sketch-md5 %s" % md5)):
            p = subprocess.run([T.BIN, "doctor", url, "--as", "esp32", "--version", "3.0",
                                "--mac", "24:6F:28:0E:00:01", "--no-probes"],
                               capture_output=True, text=True, timeout=60)
            check(p.returncode == want_rc and want in p.stdout,
                  "doctor --as esp32 on %s: %r %r" % (url, p.stdout, p.stderr))
        # the very image it runs, named by its appended digest (a 2018 core's only hash)
        p = subprocess.run([T.BIN, "doctor", "http://127.0.0.1:%d/x.bin" % static.server_address[1],
                            "--as", "esp32", "--sketch-sha256", sha.upper(), "--no-probes"],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 1 and "offered the image the device says it runs" in p.stdout,
              "doctor: the offered image is what it runs by sha256: %r" % p.stdout)
    finally:
        srv.stop()
        static.shutdown()


GROUPS = {"doctorloop": t_doctorloop, "chip": t_chip, "modes": t_modes, "identity": t_identity, "idf": t_idf, "hashes": t_hashes,
          "corpus": t_corpus}

if __name__ == "__main__":
    rc = GROUPS[T.GROUP]()
    if T.FAILS:
        print("%d check(s) failed in group %s" % (len(T.FAILS), T.GROUP))
        sys.exit(1)
    if rc == SKIP:
        sys.exit(SKIP)
    print("ok: group %s" % T.GROUP)
