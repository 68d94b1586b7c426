#!/usr/bin/env python3
"""The REAL ESP8266 Arduino core OTA client (ESPhttpUpdate, HTTPClient, BearSSL, Updater;
../shared/realclient) against the real `updraft serve`, on the real firmware corpus.

usage: test_realclient.py UPDRAFT CLIENT_BUILD_DIR REALCLIENT_DIR FIRMWARE_DIR GROUP [NAME_REGEX]

Every device-facing behaviour the server has today is run at least once: the client says
what a device would (RESULT/ERR), and the bytes it staged must be the release's (as the
Updater writes them: byte 2 set to the chip's flash mode for a plain image). A case marked
@case(group, xfail="issue N part M: why") shows a known bug: it must fail until the fix
lands, and a marked case that passes fails the run (XPASS) until the mark is removed.

Exit 77 (skipped) when REALCLIENT_DIR is absent. Python 3 standard library only.
Helpers: realclient.py. How to add a case: docs/testing.md."""
import concurrent.futures
import gzip
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from realclient import FLASH_MODES, Harness, as_flashed, md5, roundup4k, run_cases  # noqa: E402

CASES = []


def case(group, xfail=None):
    """Register fn(h, t) as case `<group>.<fn name>`. xfail: why it fails today, naming
    the issue part that fixes it."""
    def deco(fn):
        CASES.append((group, fn.__name__, fn, xfail))
        return fn
    return deco


# Corpus files (../shared/testdata/firmware/MANIFEST.tsv), by name prefix, and the version
# each is published as (one version per file: a server takes the same bytes only once).
WBEC = "esp8266-app_wbec"                    # 773456 B, DIO, 4M, core 3.0.2 (eboot inflates)
MILIGHT = "esp8266-app_milight-hub"          # 461696 B, DIO, 4M, core 2.5.x (no gzip)
DEEPSLEEP = "esp8266-app_esptool-testimage"  # 297632 B, DIO, 4M
TASMOTA = "esp8266-app_tasmota"              # 900528 B, DOUT, 1M, core 2.7.8
TASMOTA_GZ = "esp8266-app-gz_tasmota-14"     # 625163 B gzip of TASMOTA
MINIMAL_GZ = "esp8266-app-gz_tasmota-minimal"  # 269849 B gzip, 376128 B inflated, 1M
LITTLEFS = "esp8266-littlefs_wbec"           # 1024000 B LittleFS image
ESP32 = "esp32-app_esp-idf-v3.3-hello-world"  # 207008 B ESP32 app
VERSION = {WBEC: "3.0.2", MILIGHT: "2.5.0", DEEPSLEEP: "4.0.0", TASMOTA: "14.3.0.4",
           TASMOTA_GZ: "14.3.0.5", MINIMAL_GZ: "12.1.1", LITTLEFS: "7.0.0", ESP32: "5.0.0"}
OLD = "1.0.0"  # what a device runs before an update: older than every release above


def publish(h, srv, prefix, channel, **kw):
    return srv.publish(h.firmware(prefix), VERSION[prefix], channel=channel, **kw)


def staged_is(t, r, image, flash_mode, what):
    """RESULT 2 and the staged bytes are `image` as the device's Updater writes it."""
    if not t.result(r, 2, 0, what):
        return
    want = as_flashed(image, flash_mode)
    t.eq(r.staged, md5(want), what + ": STAGED md5 is the release as written to flash")
    t.check(r.dump == want, what + ": the staged bytes are the release's (UPD_DUMP)")
    t.eq(r.flash and r.flash["len"], len(image), what + ": FLASH len")


def wait_event(srv, mac, kind, timeout=5.0):
    """The device's events of `kind` (download events are written a moment after the
    device read the last byte)."""
    end = time.time() + timeout
    while True:
        ev = srv.events(mac, kind)
        if ev or time.time() > end:
            return ev
        time.sleep(0.05)


# ---- http: the update over plain HTTP, flash modes, current devices -----------------------

@case("http")
def install_and_current(h, t):
    srv = h.server()
    rel = publish(h, srv, WBEC, "install")
    dev = h.device(h.mac())
    r = dev.update(srv.url("/update/install"), OLD)
    staged_is(t, r, rel.data, None, "first check")
    if r.flash:
        t.eq(r.flash["start"], dev.fs_start - roundup4k(len(rel.data)),
             "staged at the top of the free gap (FS start - roundup(len, 4096))")
    d = srv.device(dev.mac)
    want = {"platform": "esp8266", "version": OLD, "sketch_size": dev.sketch_size,
            "sketch_md5": "0" * 32, "free_space": dev.free_space, "chip_size": dev.chip_size,
            "mode": "sketch", "sdk": "2.5.0", "user_agent": "ESP8266-http-Update",
            "chip_id": str(int(dev.mac.replace(":", "")[6:], 16)),
            "ap_mac": "%02X%s" % (int(dev.mac[:2], 16) | 2, dev.mac[2:]),
            "offered_release": rel.id}
    for k, v in want.items():
        t.eq(d and d.get(k), v, "registry row from the real client's headers: " + k)
    ev = wait_event(srv, dev.mac, "download-completed")
    t.check(ev and ev[0]["bytes"] == len(rel.data), "download-completed with the length: %r" % ev)
    dev.install(r)
    r = dev.update(srv.url("/update/install"), rel.version)
    t.result(r, 1, 0, "after installing it: no update (304)")
    t.eq(r.staged, None, "nothing staged")
    d = srv.device(dev.mac)
    t.eq((d["running_release"], d["offered_release"]), (rel.id, None),
         "registry: the update is inferred, the offer closed")
    t.check(srv.events(dev.mac, "updated"), "an updated event")


def flash_mode_case(mode):
    def fn(h, t):
        srv = h.server()
        rel = publish(h, srv, DEEPSLEEP, "modes")
        dev = h.device(h.mac(), flash_mode=mode)
        r = dev.update(srv.url("/update/modes"), OLD)
        staged_is(t, r, rel.data, mode, "DIO image on a %s chip" % mode.upper())
        if r.dump:
            t.eq(r.dump[2], FLASH_MODES[mode], "byte 2 is the chip's flash mode")
            t.eq(r.staged == rel.md5, mode == "dio", "STAGED equals the file's MD5 only in DIO")
    fn.__name__ = "flash_mode_" + mode
    return fn


for _m in FLASH_MODES:
    case("http")(flash_mode_case(_m))


@case("http")
def nothing_to_offer(h, t):
    srv = h.server()
    dev = h.device(h.mac())
    r = dev.update(srv.url("/update/empty-channel"), OLD)
    t.result(r, 1, 0, "channel without a release: no update")
    ev = srv.events(dev.mac, "check")
    t.check(ev and "no" in ev[0]["detail"], "the check is recorded with its reason: %r" % ev)


@case("http")
def no_downgrade(h, t):
    srv = h.server()
    publish(h, srv, WBEC, "downgrade")
    dev = h.device(h.mac())
    r = dev.update(srv.url("/update/downgrade"), "99.0")
    t.result(r, 1, 0, "device runs a newer version: no update")
    ev = srv.events(dev.mac, "declined")
    t.check(ev and "older" in ev[0]["detail"], "declined with the reason: %r" % ev)


@case("http")
def version_query(h, t):
    # ESPhttpUpdate.getAvailableVersion() (x-ESP8266-mode: version), our sketch versioncheck/
    srv = h.server()
    rel = publish(h, srv, WBEC, "vquery")
    dev = h.device(h.mac())
    r = dev.check_version(srv.url("/update/vquery"), OLD)
    t.result(r, 2, 0, "version query")
    t.eq(r.available, rel.version, "the available version (x-version)")
    t.eq(r.flash, None, "a version query writes nothing")
    dev.running, dev.sketch_size, dev.sketch_md5 = rel.data, len(rel.data), rel.md5
    r = dev.check_version(srv.url("/update/vquery"), rel.version)
    t.result(r, 2, 0, "version query of a device that runs it")
    t.eq(r.available, rel.version, "it is told the version it runs")


@case("http")
def version_query_nothing_to_offer(h, t):
    # docs/protocol.md: 304 when there is nothing to offer; getAvailableVersion() has no
    # "no update" answer, so the real client reports -104 (Wrong HTTP Code) for it
    srv = h.server()
    r = h.device(h.mac()).check_version(srv.url("/update/vquery-empty"), OLD)
    t.result(r, 0, -104, "version query, channel without a release")
    t.eq(r.available, None, "no version announced")


@case("http")
def devices_at_once(h, t):
    # eight real clients download the same release at the same time (one open blob)
    srv = h.server()
    rel = publish(h, srv, DEEPSLEEP, "at-once")
    devs = [h.device(h.mac(), flash_mode=m) for m in list(FLASH_MODES) * 2]
    with concurrent.futures.ThreadPoolExecutor(len(devs)) as ex:
        results = list(ex.map(lambda d: d.update(srv.url("/update/at-once"), OLD), devs))
    for d, r in zip(devs, results):
        staged_is(t, r, rel.data, d.flash_mode, "device %s (%s)" % (d.mac, d.flash_mode))


@case("http")
def pinned_downgrade(h, t):
    srv = h.server()
    chan = publish(h, srv, DEEPSLEEP, "pin")
    pinned = srv.publish(h.firmware(MILIGHT), VERSION[MILIGHT], channel=None)
    dev = h.device(h.mac())
    st, _ = srv.api("POST", "/devices/%s/pin" % dev.mac, {"release": pinned.id})
    t.eq(st, 200, "pin the device to a release of an older version")
    r = dev.update(srv.url("/update/pin"), VERSION[DEEPSLEEP])
    staged_is(t, r, pinned.data, None, "pinned: the pinned release, downgrade included")
    if r.result != 2:
        return
    dev.install(r)
    t.result(dev.update(srv.url("/update/pin"), pinned.version), 1, 0, "runs its pin: no update")
    srv.api("DELETE", "/devices/%s/pin" % dev.mac)
    staged_is(t, dev.update(srv.url("/update/pin"), pinned.version), chan.data, None,
              "unpinned: the channel's newer release")


@case("http")
def assigned_channel(h, t):
    # a device assigned to a channel follows it on the plain /update URL
    srv = h.server()
    rel = publish(h, srv, DEEPSLEEP, "assigned")
    dev = h.device(h.mac())
    st, _ = srv.api("PUT", "/devices/%s/channel" % dev.mac, {"channel": "assigned"})
    t.eq(st, 200, "assign the channel")
    staged_is(t, dev.update(srv.url("/update"), OLD), rel.data, None, "/update: its channel")


@case("http")
def retired_release(h, t):
    srv = h.server("retire")  # its own server: retiring changes what every channel offers
    rel = publish(h, srv, DEEPSLEEP, "retire")
    dev = h.device(h.mac())
    st, _ = srv.api("POST", "/releases/%d/retire" % rel.id, {"force": True})
    t.eq(st, 200, "retire the release")
    t.result(dev.update(srv.url("/update/retire"), OLD), 1, 0, "a retired release: no update")


# ---- tls: HTTPS through BearSSL::WiFiClientSecure (setInsecure) ---------------------------

@case("tls")
def https_install_and_current(h, t):
    srv = h.server("tls", tls=True)
    rel = publish(h, srv, WBEC, "tls")
    dev = h.device(h.mac(), flash_mode="dio")
    r = dev.update(srv.url("/update/tls"), OLD)
    staged_is(t, r, rel.data, "dio", "over HTTPS")
    dev.install(r)
    t.result(dev.update(srv.url("/update/tls"), rel.version), 1, 0, "current over HTTPS")


@case("tls")
def https_mfln_4096(h, t):
    # a device asks for 4 KiB TLS records (probeMaxFragmentLength, then setBufferSizes)
    srv = h.server("tls", tls=True)
    rel = publish(h, srv, DEEPSLEEP, "tls-mfln")
    dev = h.device(h.mac())
    r = dev.update(srv.url("/update/tls-mfln"), OLD, UPD_TLS_MFLN=4096)
    t.eq(r.mfln, "accepted", "the server accepts MFLN 4096")
    staged_is(t, r, rel.data, None, "HTTPS with 4 KiB buffers")


@case("tls")
def https_small_tls_buffers(h, t):
    # ESP8266 sketches short of RAM use 512 or 1024 byte TLS buffers after the MFLN probe;
    # GnuTLS accepted the extension but sent 4 KiB records until the server set the
    # negotiated length on the session (src/server/tlsrec.c)
    srv = h.server("tls", tls=True)
    rel = publish(h, srv, DEEPSLEEP, "tls-mfln")
    for n in (512, 1024, 2048):
        r = h.device(h.mac()).update(srv.url("/update/tls-mfln"), OLD, UPD_TLS_MFLN=n)
        t.eq(r.mfln, "accepted", "the server accepts MFLN %d" % n)
        staged_is(t, r, rel.data, None, "HTTPS with %d byte buffers" % n)


# ---- auth: HTTP Basic from ESPhttpUpdate.setAuthorization() --------------------------------

def auth_server(h, tls=False):
    creds = os.path.join(h.tmp, "device-creds")
    with open(creds, "w") as f:
        f.write("# own credentials\n5C:CF:7F:AA:00:01 dev1:s3cret\n")
    return h.server("auth-tls" if tls else "auth", tls=tls,
                    args=["--device-auth", "fleet:fleetpass", "--device-auth-file", creds])


@case("auth")
def fleet_credentials(h, t):
    srv = auth_server(h)
    rel = publish(h, srv, DEEPSLEEP, "auth")
    r = h.device(h.mac(), auth=("fleet", "fleetpass")).update(srv.url("/update/auth"), OLD)
    staged_is(t, r, rel.data, None, "fleet credentials")


@case("auth")
def missing_or_wrong_credentials(h, t):
    srv = auth_server(h)
    publish(h, srv, DEEPSLEEP, "auth")
    dev = h.device(h.mac())
    t.result(dev.update(srv.url("/update/auth"), OLD), 0, -108, "no credentials: 401")
    dev.auth = ("fleet", "nope")
    t.result(dev.update(srv.url("/update/auth"), OLD), 0, -108, "wrong password: 401")
    t.eq(srv.device(dev.mac), None, "refused requests leave no device row")


@case("auth")
def device_credentials(h, t):
    srv = auth_server(h)
    rel = publish(h, srv, DEEPSLEEP, "auth")
    dev = h.device("5C:CF:7F:AA:00:01", auth=("fleet", "fleetpass"))
    t.result(dev.update(srv.url("/update/auth"), OLD), 0, -108,
             "a device with its own credentials may not use the fleet's")
    dev.auth = ("dev1", "s3cret")
    staged_is(t, dev.update(srv.url("/update/auth"), OLD), rel.data, None, "its own credentials")


@case("auth")
def credentials_over_https(h, t):
    srv = auth_server(h, tls=True)
    rel = publish(h, srv, DEEPSLEEP, "auth")
    dev = h.device(h.mac(), auth=("fleet", "fleetpass"))
    staged_is(t, dev.update(srv.url("/update/auth"), OLD), rel.data, None, "Basic over HTTPS")


@case("auth")
def version_query_with_credentials(h, t):
    srv = auth_server(h)
    rel = publish(h, srv, DEEPSLEEP, "auth")
    dev = h.device(h.mac(), auth=("fleet", "fleetpass"))
    r = dev.check_version(srv.url("/update/auth"), OLD)
    t.result(r, 2, 0, "version query with credentials")
    t.eq(r.available, rel.version, "available version")
    dev.auth = None
    t.result(dev.check_version(srv.url("/update/auth"), OLD), 0, -108, "without: 401")


# ---- images: the corpus, gzip, filesystem images -------------------------------------------

def corpus_case(prefix):
    name = "corpus_" + re.sub(r"\W", "_", prefix.split("_", 1)[1])

    def fn(h, t):
        # each plain ESP8266 app of the corpus, on a chip in the image's own flash mode
        srv = h.server()
        url = srv.url("/update/" + name.replace("_", "-"))
        rel = publish(h, srv, prefix, name.replace("_", "-"))
        row = [x for x in h.manifest() if x["file"].startswith(prefix)][0]
        mode = row["flash_mode"].lower()
        dev = h.device(h.mac(), flash_mode=mode)
        r = dev.update(url, OLD)
        staged_is(t, r, rel.data, mode, row["file"])
        t.eq(r.staged, rel.md5, "in its own flash mode the image is staged unchanged")
        if r.result == 2:
            dev.install(r)
            t.result(dev.update(url, rel.version), 1, 0, "current after installing it")
    fn.__name__ = name
    return fn


for _p in (WBEC, MILIGHT, DEEPSLEEP, TASMOTA):
    case("images")(corpus_case(_p))


@case("images")
def gzip_release(h, t):
    # a 1 MB device (1m64 layout) takes a gzip release; the Updater writes it as it is
    # (no flash-mode byte in a gzip stream), eboot inflates it, and the device then reports
    # the inflated image's MD5: current
    srv = h.server()
    rel = publish(h, srv, MINIMAL_GZ, "gz-min")
    dev = h.device(h.mac(), layout="1m64", flash_mode="dout")
    r = dev.update(srv.url("/update/gz-min"), OLD)
    staged_is(t, r, rel.data, "dout", "gzip image on a 1 MB DOUT device")
    t.eq(r.staged, rel.md5, "a gzip image is staged unchanged")
    dev.install(r)
    t.eq(dev.sketch_md5, rel.json.get("inflated_md5"), "the release knows the inflated MD5")
    t.result(dev.update(srv.url("/update/gz-min"), rel.version), 1, 0,
             "current after installing it (inflated MD5)")


@case("images")
def gzip_release_4m(h, t):
    srv = h.server()
    rel = publish(h, srv, TASMOTA_GZ, "gz-tasmota")
    dev = h.device(h.mac(), flash_mode="qio")
    staged_is(t, dev.update(srv.url("/update/gz-tasmota"), OLD), rel.data, "qio",
              "Tasmota gzip on a 4 MB device")


@case("images")
def littlefs_image(h, t):
    # updateFS(): a LittleFS image goes to FS start, byte for byte (no flash-mode rewrite)
    srv = h.server()
    rel = publish(h, srv, LITTLEFS, "fs")
    dev = h.device(h.mac(), layout="4m1m", flash_mode="dout")
    r = dev.update(srv.url("/update/fs"), "", mode="spiffs")
    staged_is(t, r, rel.data, None, "LittleFS image in spiffs mode")
    t.eq(r.flash and r.flash["start"], dev.fs_start, "written at FS start")
    t.result(dev.update(srv.url("/update/fs"), OLD), 1, 0,
             "sketch mode on a channel with only a filesystem release: no update")


@case("images")
def sketch_and_fs_on_one_channel(h, t):
    srv = h.server()
    app = publish(h, srv, DEEPSLEEP, "both")
    fs = publish(h, srv, LITTLEFS, "both")
    dev = h.device(h.mac(), layout="4m1m")
    staged_is(t, dev.update(srv.url("/update/both"), OLD), app.data, None, "sketch mode: the app")
    staged_is(t, dev.update(srv.url("/update/both"), "", mode="spiffs"), fs.data, None,
              "spiffs mode: the filesystem image")


@case("images")
def signed_release(h, t):
    # a sketch built for signed updates (UPD_PUBKEY: the Updater verifies before it
    # installs); afterwards the device reports the MD5 of the payload, which it runs
    srv = h.server("signed")
    payload = h.firmware(DEEPSLEEP)
    data, pub = h.signed(payload)
    rel = srv.publish(data, "4.1.0", channel="signed")
    dev = h.device(h.mac(), flash_mode="dio", env={"UPD_PUBKEY": pub})
    r = dev.update(srv.url("/update/signed"), OLD)
    staged_is(t, r, rel.data, "dio", "signed image, verified by the device")
    if r.result == 2:
        dev.install(r, length=len(payload))
        t.result(dev.update(srv.url("/update/signed"), rel.version), 1, 0,
                 "current after installing it (payload MD5)")
    other = h.signing_key("other")[1]
    t.result(h.device(h.mac(), env={"UPD_PUBKEY": other}).update(srv.url("/update/signed"), OLD),
             0, 12, "a device with another key refuses it: the signature is checked")


@case("images")
def signed_release_in_other_flash_mode(h, t):
    # a signed image in another flash mode than the chip's fails the device's signature
    # check (Updater error 12: the Updater patches byte 2 on flash before it verifies,
    # spec 5); the server knows the chip's mode from the release variant it runs
    srv = h.server("signed-mode")
    old = publish(h, srv, WBEC, "signed")
    data, pub = h.signed(h.firmware(DEEPSLEEP))
    srv.publish(data, "4.1.0", channel="signed")
    dev = h.device(h.mac(), flash_mode="dout", running=as_flashed(old.data, "dout"),
                   env={"UPD_PUBKEY": pub})
    r = dev.update(srv.url("/update/signed"), old.version)
    t.result(r, 1, 0, "signed DIO image, device known to run in DOUT: no update, not error 12")


def updraft(h, *args):
    p = subprocess.run([h.updraft, *args], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("updraft %s: %s" % (" ".join(args), p.stderr))
    return p.stdout


def updraft_key(h, name, typ="rsa2048"):
    """A key pair made by `updraft keygen` (once per run): (private, public) paths."""
    with h.lock:
        priv = os.path.join(h.tmp, "updraft-%s.key" % name)
        if not os.path.exists(priv):
            updraft(h, "keygen", priv, "--type", typ)
        return priv, priv + ".pub"


def updraft_signed(h, payload, key, name):
    src = os.path.join(h.tmp, "%s.bin" % name)
    with open(src, "wb") as f:
        f.write(payload)
    updraft(h, "sign", src, "--key", key, "-o", src + ".signed", "--force")
    with open(src + ".signed", "rb") as f:
        return f.read()


@case("images")
def updraft_sign_installs(h, t):
    # docs/signing.md: `updraft keygen` + `updraft sign` output is what the core's Updater
    # verifies: installed by a device holding the key, refused (error 12) with another key
    priv, pub = updraft_key(h, "fleet")
    payload = h.firmware(DEEPSLEEP)
    data = updraft_signed(h, payload, priv, "deepsleep-u")
    srv = h.server("updraft-signed")
    rel = srv.publish(data, "4.2.0", channel="usigned")
    dev = h.device(h.mac(), flash_mode="dio", env={"UPD_PUBKEY": pub})
    r = dev.update(srv.url("/update/usigned"), OLD)
    staged_is(t, r, rel.data, "dio", "updraft sign output, verified by the real Updater")
    if r.result == 2:
        dev.install(r, length=len(payload))
        t.result(dev.update(srv.url("/update/usigned"), rel.version), 1, 0,
                 "current after installing it: no loop")
    other = updraft_key(h, "other")[1]
    t.result(h.device(h.mac(), env={"UPD_PUBKEY": other}).update(srv.url("/update/usigned"), OLD),
             0, 12, "a device with another key refuses it")
    srv.publish(payload, "4.2.1", channel="uplain")
    t.result(h.device(h.mac(), env={"UPD_PUBKEY": pub}).update(srv.url("/update/uplain"), OLD),
             0, 12, "a device holding the key refuses the unsigned image")


@case("images")
def updraft_sign_rsa3072(h, t):
    # the core's tools/signing.py writes the length word 256 for every key; updraft writes
    # the real one, and a device holding an RSA-3072 key installs the image
    priv, pub = updraft_key(h, "fleet3072", "rsa3072")
    payload = h.firmware(DEEPSLEEP)
    data = updraft_signed(h, payload, priv, "deepsleep-3072")
    t.eq(data[-4:], (384).to_bytes(4, "little"), "length word 384")
    srv = h.server("updraft-signed")
    rel = srv.publish(data, "4.3.0", channel="s3072")
    r = h.device(h.mac(), flash_mode="dio", env={"UPD_PUBKEY": pub}).update(
        srv.url("/update/s3072"), OLD)
    staged_is(t, r, rel.data, "dio", "RSA-3072 signature, verified by the real Updater")


@case("images")
def server_signs_at_upload(h, t):
    # serve --sign-key + release add --sign (the API's sign=1): the device installs it
    priv, pub = updraft_key(h, "server")
    srv = h.server("server-signs", args=("--sign-key", priv))
    payload = h.firmware(DEEPSLEEP)
    rel = srv.publish(payload, "4.4.0", channel="ssigned", sign="1")
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", priv], input=payload,
                         capture_output=True, check=True).stdout
    signed = payload + sig + len(sig).to_bytes(4, "little")
    r = h.device(h.mac(), flash_mode="dio", env={"UPD_PUBKEY": pub}).update(
        srv.url("/update/ssigned"), OLD)
    staged_is(t, r, signed, "dio", "signed by the server at upload, verified by the device")
    t.eq(rel.json.get("size"), len(signed), "the release is the signed file")


@case("images")
def ecdsa_never_verifies(h, t):
    # docs/signing.md: the core's SigningVerifier wants an ECDSA signature as long as the
    # public key (65 bytes for P-256) and its ECDSA check takes only even lengths, so an
    # ECDSA-signed image is refused however it is made: why `updraft sign` refuses ECDSA
    priv, pub = updraft_key(h, "ec", "ecdsa-p256")
    payload = h.firmware(DEEPSLEEP)
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", priv], input=payload,
                         capture_output=True, check=True).stdout
    # DER SEQUENCE { INTEGER r, INTEGER s } -> 32-byte r || 32-byte s
    i = 2 + (der[1] == 0x81)
    rl = der[i + 1]
    r_ = der[i + 2:i + 2 + rl]
    j = i + 2 + rl
    s_ = der[j + 2:j + 2 + der[j + 1]]
    raw = r_[-32:].rjust(32, b"\0") + s_[-32:].rjust(32, b"\0")
    srv = h.server("updraft-signed")
    for n, sig, ver in ((64, raw, "4.5.0"), (65, raw + b"\0", "4.5.1")):
        data = payload + sig + n.to_bytes(4, "little")
        srv.publish(data, ver, channel="ecdsa%d" % n)
        t.result(h.device(h.mac(), flash_mode="dio", env={"UPD_PUBKEY": pub}).update(
            srv.url("/update/ecdsa%d" % n), OLD), 0, 12,
            "an ECDSA P-256 signature of %d bytes is refused by the real Updater" % n)


# ---- fit: what the device's own client would refuse is never offered ----------------------

@case("fit")
def too_big(h, t):
    srv = h.server()
    rel = publish(h, srv, WBEC, "fit-big")
    dev = h.device(h.mac(), layout="4m3m")  # 1 MB sketch area: 647168 B free
    t.check(dev.free_space < len(rel.data), "setup: the image does not fit")
    r = dev.update(srv.url("/update/fit-big"), OLD)
    t.result(r, 1, 0, "too big: no update (304), not -100")
    ev = srv.events(dev.mac, "declined")
    t.check(ev and "-100" in ev[0]["detail"], "declined with the reason (-100): %r" % ev)


@case("fit")
def free_space_boundary(h, t):
    # free space is a multiple of 4096 on a device; the Updater needs roundup(len, 4096)
    srv = h.server()
    rel = publish(h, srv, WBEC, "fit-edge")
    need = roundup4k(len(rel.data))
    dev = h.device(h.mac(), free_space=need)
    staged_is(t, dev.update(srv.url("/update/fit-edge"), OLD), rel.data, None,
              "free space = roundup(len, 4096): fits")
    dev = h.device(h.mac(), free_space=need - 4096)
    t.result(dev.update(srv.url("/update/fit-edge"), OLD), 1, 0,
             "one sector less: no update (304)")


@case("fit")
def image_for_bigger_flash(h, t):
    # a 4M image on a 1 MB chip: refused by the server (-107 on cores without flash maps)
    srv = h.server()
    publish(h, srv, DEEPSLEEP, "fit-flash")
    dev = h.device(h.mac(), layout="1m64")
    t.result(dev.update(srv.url("/update/fit-flash"), OLD), 1, 0, "4M image, 1M chip: no update")
    ev = srv.events(dev.mac, "declined")
    t.check(ev and ("-107" in ev[0]["detail"] or "flash" in ev[0]["detail"].lower()),
            "declined with the reason: %r" % ev)


@case("fit")
def esp32_image_never_offered(h, t):
    # the ESP8266 client would flash an ESP32 image happily (spec 8): only the server stops it
    srv = h.server()
    publish(h, srv, ESP32, "fit-esp32")
    dev = h.device(h.mac())
    t.result(dev.update(srv.url("/update/fit-esp32"), OLD), 1, 0,
             "channel with only an ESP32 release: no update")


@case("fit")
def esp8266_image_beside_esp32(h, t):
    srv = h.server()
    publish(h, srv, ESP32, "fit-mixed")
    rel = publish(h, srv, DEEPSLEEP, "fit-mixed")
    staged_is(t, h.device(h.mac()).update(srv.url("/update/fit-mixed"), OLD), rel.data, None,
              "a channel with both: the ESP8266 image")


# ---- fw: the static layout /fw/<MAC>.version and /fw/<MAC>.bin -----------------------------

@case("fw")
def static_mac_layout(h, t):
    srv = h.server()
    rel = publish(h, srv, DEEPSLEEP, "fw")
    dev = h.device(h.mac())
    hexmac = dev.mac.replace(":", "")
    st, js = srv.api("PUT", "/devices/%s/channel" % dev.mac, {"channel": "fw"})
    t.eq(st, 200, "assign the device to channel fw")
    r = dev.update(srv.url("/fw/%s.bin" % hexmac), OLD)
    staged_is(t, r, rel.data, None, "/fw/<MAC>.bin")
    try:
        body = urllib.request.urlopen(srv.url("/fw/%s.version" % hexmac.lower()), timeout=10).read()
    except urllib.error.HTTPError as e:
        body = "HTTP %d" % e.code
    t.eq(body, rel.version.encode(), "/fw/<MAC>.version: the version, no newline")
    dev.install(r)
    t.result(dev.update(srv.url("/fw/%s.bin" % dev.mac.replace(":", "-").lower()), rel.version),
             1, 0, "/fw/<mac with dashes>.bin once installed: no update")


@case("fw")
def static_layout_too_big(h, t):
    srv = h.server()
    publish(h, srv, WBEC, "fw-big")
    dev = h.device(h.mac(), layout="4m3m")
    srv.api("PUT", "/devices/%s/channel" % dev.mac, {"channel": "fw-big"})
    t.result(dev.update(srv.url("/fw/%s.bin" % dev.mac.replace(":", "")), OLD), 1, 0,
             "/fw/<MAC>.bin that would not fit: no update (304)")


# ---- loop: no update loop after a flash-mode rewrite (issue 8 part 1) ----------------------

def after_install(h, t, channel, mode, version_after):
    """Install WBEC (a DIO image) on a chip in `mode`, then check again as the device does
    after its reboot: sketch-md5 = the image as on its flash. Expected: no update."""
    srv = h.server()
    rel = publish(h, srv, WBEC, channel)
    dev = h.device(h.mac(), flash_mode=mode)
    r = dev.update(srv.url("/update/" + channel), OLD)
    staged_is(t, r, rel.data, mode, "install")
    if r.result != 2:
        return
    dev.install(r)
    r = dev.update(srv.url("/update/" + channel), version_after)
    t.result(r, 1, 0, "the check after installing it in %s mode: no update" % mode.upper())
    d = srv.device(dev.mac)
    t.eq(d["running_release"], rel.id, "registry: it runs the release")
    t.check(srv.events(dev.mac, "updated"), "an updated event")
    t.check(not srv.events(dev.mac, "failed"), "no failed event")


@case("loop")
def same_mode_no_loop(h, t):
    after_install(h, t, "loop-dio", "dio", VERSION[WBEC])


@case("loop")
def flash_mode_rewrite_no_loop(h, t):
    after_install(h, t, "loop-dout", "dout", VERSION[WBEC])


@case("loop")
def flash_mode_rewrite_no_loop_without_version(h, t):
    after_install(h, t, "loop-qio", "qio", "")


# ---- fsarea: a filesystem image must fit the device's FS area (issue 8 part 2) --------------

@case("fsarea")
def fs_image_fits_area_exactly(h, t):
    # 4m1m: FS area 0x300000..0x3FA000 = 1024000 B = the LittleFS image
    srv = h.server()
    rel = publish(h, srv, LITTLEFS, "fsa-fit")
    dev = h.device(h.mac(), layout="4m1m")
    t.eq(dev.fs_end - dev.fs_start, len(rel.data), "setup: the area is exactly the image")
    r = dev.update(srv.url("/update/fsa-fit"), "", mode="spiffs")
    staged_is(t, r, rel.data, None, "LittleFS image filling the FS area")


@case("fsarea")
def fs_image_larger_than_area(h, t):
    # 2m512: free space 1.1 MB (the sketch area), FS area only 499712 B
    srv = h.server()
    publish(h, srv, LITTLEFS, "fsa-big")
    dev = h.device(h.mac(), layout="2m512")
    r = dev.update(srv.url("/update/fsa-big"), "", mode="spiffs")
    t.result(r, 1, 0, "filesystem image larger than the FS area: no update, not -100")
    ev = srv.events(dev.mac, "declined")
    t.check(ev, "declined with a reason: %r" % ev)


@case("fsarea")
def fs_area_one_sector_short(h, t):
    # the 4m1m area moved up by one sector: 4096 bytes short of the image
    srv = h.server()
    rel = publish(h, srv, LITTLEFS, "fsa-short")
    base = h.device(h.mac(), layout="4m1m")
    dev = h.device(h.mac(), layout="4m1m", free_space=base.free_space + 4096)
    t.eq(dev.fs_end - dev.fs_start, len(rel.data) - 4096, "setup: the area is one sector short")
    t.result(dev.update(srv.url("/update/fsa-short"), "", mode="spiffs"), 1, 0,
             "one sector short: no update, not -100")


@case("fsarea")
def no_fs_area(h, t):
    # a 1 MB layout without filesystem (1m): FS start = FS end
    srv = h.server()
    publish(h, srv, LITTLEFS, "fsa-none")
    dev = h.device(h.mac(), layout="1m")
    t.result(dev.update(srv.url("/update/fsa-none"), "", mode="spiffs"), 1, 0,
             "no filesystem area: no update")


# ---- failing: a release that failed on a device is not offered forever (issue 8 part 3) -----

def fail_repeatedly(h, t, srv, channel, checks=4):
    """A device that downloads the channel's release and comes back on its old image each
    time (it does not boot the new one). The results of its checks."""
    dev = h.device(h.mac())
    results = []
    for n in range(1, checks + 1):
        r = dev.update(srv.url("/update/" + channel), OLD)
        results.append(r.result)
        if r.result != 2:
            break
        # a device takes seconds to reboot; the server records the completed download
        # just after the answer went out: check again once it has
        end = time.time() + 10
        while len(srv.events(dev.mac, "download-completed")) < n and time.time() < end:
            time.sleep(0.05)
    return dev, results


@case("failing")
def failed_release_not_offered_again(h, t):
    srv = h.server()
    publish(h, srv, DEEPSLEEP, "fail-stop")
    dev, results = fail_repeatedly(h, t, srv, "fail-stop")
    t.check(srv.events(dev.mac, "failed"), "failed is inferred")
    t.check(results[-1] == 1, "within 4 checks the failing release is no longer offered: "
            "RESULTs %r" % results)
    if results[-1] == 1:
        t.result(dev.update(srv.url("/update/fail-stop"), OLD), 1, 0, "and not on the next check")
        ev = srv.events(dev.mac, "declined")
        t.check(ev and "retry" in ev[0]["detail"], "the reason says how to retry: %r" % ev)


@case("failing")
def retry_offers_it_again(h, t):
    srv = h.server("failing-retry")
    rel = publish(h, srv, DEEPSLEEP, "fail-retry")
    dev, results = fail_repeatedly(h, t, srv, "fail-retry")
    t.eq(results[-1], 1, "setup: the release is held back: RESULTs %r" % results)
    st, _ = srv.api("POST", "/devices/%s/retry" % dev.mac)
    t.eq(st, 200, "updraft device retry")
    staged_is(t, dev.update(srv.url("/update/fail-retry"), OLD), rel.data, None,
              "after retry: offered again")


@case("failing")
def newer_release_after_failure(h, t):
    # whatever part 3 stops, a newer release is offered
    srv = h.server("failing-newer")
    publish(h, srv, DEEPSLEEP, "fail-new")
    dev, results = fail_repeatedly(h, t, srv, "fail-new")
    rel = srv.publish(h.firmware(MILIGHT), "9.9.9", channel="fail-new")
    staged_is(t, dev.update(srv.url("/update/fail-new"), OLD), rel.data, None,
              "the newer release after failures of the older one")


# ---- delivery: gzip copies for devices whose eboot inflates (issue 8 part 4) ---------------

def runs_release(h, srv, prefix, channel, **kw):
    """A device that runs the corpus image `prefix`, published as a release on `channel`."""
    old = publish(h, srv, prefix, channel)
    return old, h.device(h.mac(), running=old.data, **kw)


def got_gzip_of(t, r, image, what):
    if not t.result(r, 2, 0, what):
        return
    t.eq(r.dump[:2], b"\x1f\x8b", what + ": the staged image is gzip")
    if r.dump[:2] == b"\x1f\x8b":
        t.check(gzip.decompress(r.dump) == image, what + ": it inflates to the release")
        t.check(len(r.dump) < len(image), what + ": fewer bytes on air")


@case("delivery")
def gzip_copy_for_inflating_eboot(h, t):
    srv = h.server("delivery-1")
    old, dev = runs_release(h, srv, WBEC, "dl")  # core 3.0.2: eboot inflates
    new = publish(h, srv, DEEPSLEEP, "dl")
    r = dev.update(srv.url("/update/dl"), old.version)
    got_gzip_of(t, r, new.data, "a device whose running image inflates gets the gzip copy")
    ev = srv.events(dev.mac, "offered")
    t.check(ev and "gzip" in ev[0]["detail"], "the offer says which form: %r" % ev)
    if r.result == 2:
        dev.install(r)
        t.result(dev.update(srv.url("/update/dl"), new.version), 1, 0, "then current")


@case("delivery")
def gzip_copy_when_only_it_fits(h, t):
    srv = h.server("delivery-2")
    old, dev = runs_release(h, srv, WBEC, "dl", layout="4m3m")
    new = publish(h, srv, DEEPSLEEP, "dl")
    t.check(dev.free_space < roundup4k(len(new.data)), "setup: the plain image does not fit")
    got_gzip_of(t, dev.update(srv.url("/update/dl"), old.version), new.data,
                "only the gzip copy fits")


@case("delivery")
def plain_image_when_flash_mode_differs(h, t):
    # the device runs WBEC (DIO) on a DOUT chip: eboot would write a gzip copy unchanged
    # (a DIO image on a DOUT chip), the Updater patches a plain image: plain
    srv = h.server("delivery-5")
    old = publish(h, srv, WBEC, "dl")
    dev = h.device(h.mac(), flash_mode="dout", running=as_flashed(old.data, "dout"))
    new = publish(h, srv, DEEPSLEEP, "dl")
    staged_is(t, dev.update(srv.url("/update/dl"), old.version), new.data, "dout",
              "running image in another flash mode than the release's: the plain image")


@case("delivery")
def plain_image_when_running_image_unknown(h, t):
    srv = h.server()
    rel = publish(h, srv, DEEPSLEEP, "dl-unknown")
    staged_is(t, h.device(h.mac()).update(srv.url("/update/dl-unknown"), OLD), rel.data, None,
              "running image unknown: the plain image")


@case("delivery")
def plain_image_for_eboot_without_gzip(h, t):
    srv = h.server("delivery-3")
    old, dev = runs_release(h, srv, MILIGHT, "dl")  # core 2.5.x: eboot does not inflate
    new = publish(h, srv, DEEPSLEEP, "dl")
    staged_is(t, dev.update(srv.url("/update/dl"), old.version), new.data, None,
              "running image's eboot cannot inflate: the plain image")


@case("delivery")
def gzip_copy_staged_as_the_server_keeps_it(h, t):
    # Tasmota's own story on a 1 MB board without filesystem (eagle.flash.1m.ld): a device
    # running tasmota-minimal (376128 B, core 2.7.4: eboot inflates) cannot take Tasmota
    # (900528 B) plain, 651264 B free; the gzip copy fits. What the Updater stages is the
    # server's gzip copy byte for byte (its MD5 in the release's API JSON), and after eboot
    # inflated it the device runs the release: current.
    srv = h.server("delivery-4")
    old = publish(h, srv, MINIMAL_GZ, "dl-1m")
    dev = h.device(h.mac(), layout="1m", running=gzip.decompress(old.data))
    new = publish(h, srv, TASMOTA, "dl-1m")
    g = new.json.get("gzip")
    t.check(g is not None, "the release has a gzip copy: %r" % new.json)
    t.check(dev.free_space < roundup4k(len(new.data)), "setup: the plain image does not fit")
    r = dev.update(srv.url("/update/dl-1m"), old.version)
    got_gzip_of(t, r, new.data, "tasmota-minimal to Tasmota on 1 MB")
    if g and r.result == 2:
        t.eq(r.staged, g["md5"], "STAGED is the server's gzip copy (its MD5)")
        t.eq(r.flash and r.flash["len"], g["size"], "FLASH len is the copy's length")
        t.check(r.flash and r.flash["start"] >= g["min_stage"],
                "staged where eboot's inflation never overruns it (gzip min_stage)")
        off = wait_event(srv, dev.mac, "offered")
        t.check(off and "gzip copy" in off[0]["detail"], "the offer names the form: %r" % off)
        dev.install(r)
        t.eq(dev.sketch_md5, new.md5, "eboot's inflation gives the release's file")
        t.result(dev.update(srv.url("/update/dl-1m"), new.version), 1, 0, "then current")


@case("delivery")
def no_gamble_when_only_gzip_would_fit(h, t):
    # the same device, but its image is unknown to the server: the plain image does not
    # fit, gzip is not sent to an eboot nobody knows: 304 (RESULT 1), not -100
    srv = h.server("delivery-4")
    publish(h, srv, TASMOTA, "dl-1m-unknown")
    dev = h.device(h.mac(), layout="1m", sketch_size=376128)
    r = dev.update(srv.url("/update/dl-1m-unknown"), OLD)
    t.result(r, 1, 0, "unknown image, only a gzip copy would fit: no update, not -100")


@case("fsarea")
def fs_image_larger_than_area_nonstandard_start(h, t):
    # a 4 MB device whose filesystem starts at 0x380000 (no standard layout does): the
    # area ends where the 4 MB layouts end (0x3FA000): 499712 B, the image is 1024000 B
    srv = h.server()
    publish(h, srv, LITTLEFS, "fsa-odd")
    dev = h.device(h.mac(), layout="4m2m", free_space=0x380000 - roundup4k(400000))
    t.eq(dev.fs_start, 0x380000, "setup: FS start")
    r = dev.update(srv.url("/update/fsa-odd"), "", mode="spiffs")
    t.result(r, 1, 0, "filesystem image larger than the computed area: no update, not -100")
    ev = wait_event(srv, dev.mac, "declined")
    t.check(ev and "0x380000..0x3fa000" in ev[0]["detail"],
            "the reason names the computed area: %r" % ev)


# ---- twoservers: one fleet on two servers behind a load balancer (PostgreSQL only) ---------
#
# Two `updraft serve` on one database; the device's checks reach either. The same story is
# also played on one server (a database of its own), and what the fleet recorded must be
# the same: the device's row and its events, in order. A server answers checks from its
# device memory, which learns another server's writes within a second (docs/scaling.md
# "Caches"); an admin change reaches the other server by NOTIFY within a second too.

REBOOT = 1.5  # seconds from a device's download to its next check (eboot, then the sketch)
SPREAD = 1.2  # the bound for another server to see an admin change or a device's row

# what the fleet's records of a device are compared by (ids and sentences; no timestamps)
ROW_FIELDS = ("version", "sketch_md5", "offered_release", "offer_downloads",
              "running_release", "last_result", "held", "attention", "url_channel")


def fleet_pair(h, name):
    """(a, b): two servers on one database, and (one, one): a server alone on a database of
    its own; each a fresh database, so release ids agree between the two."""
    a = h.server(name + "-a")
    b = h.server(name + "-b", same_db_as=name + "-a")
    one = h.server(name + "-one")
    return (a, b), (one, one)


def records(srv, mac, want_kind, count=1):
    """The device's row and its events oldest first as (kind, detail), once `count` events
    of `want_kind` are there (records are written a moment after the answer); times in
    sentences (a hold's end) as <time>."""
    end = time.time() + 10
    while len(srv.events(mac, want_kind)) < count and time.time() < end:
        time.sleep(0.05)
    d = srv.device(mac) or {}
    ev = [(e["kind"], re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "<time>", e["detail"]))
          for e in reversed(srv.events(mac))]
    row = {k: d.get(k) for k in ROW_FIELDS}
    if row["held"]:
        row["held"] = dict(row["held"], until="<time>" if row["held"].get("until") else None)
    return row, ev


def same_records(t, pair, alone, what):
    t.eq(pair[0], alone[0], what + ": the device's row on two servers as on one")
    t.eq(pair[1], alone[1], what + ": its events on two servers as on one")


def update_story(h, t, a, b, channel, mac):
    """Check in on a (nothing yet), a release published on a, the update downloaded from b,
    the device back on a running it. The device's records."""
    dev = h.device(mac)
    t.result(dev.update(a.url("/update/" + channel), OLD), 1, 0, "first check on a: nothing yet")
    rel = publish(h, a, DEEPSLEEP, channel)
    time.sleep(SPREAD)
    r = dev.update(b.url("/update/" + channel), OLD)
    staged_is(t, r, rel.data, None, "downloaded from b (uploaded to a)")
    if r.result != 2:
        return rel, None
    wait_event(b, mac, "download-completed")
    time.sleep(REBOOT)
    dev.install(r)
    t.result(dev.update(a.url("/update/" + channel), rel.version), 1, 0,
             "back on a, running it: no update")
    return rel, records(a, mac, "updated")


@case("twoservers")
def update_across_servers(h, t):
    pair, alone = fleet_pair(h, "ts-update")
    rel, got = update_story(h, t, *pair, "ts-up", "5C:CF:7F:BB:00:01")
    _, want = update_story(h, t, *alone, "ts-up", "5C:CF:7F:BB:00:01")
    if not got or not want:
        return
    row, ev = got
    t.eq((row["version"], row["running_release"], row["offered_release"]),
         (rel.version, rel.id, None), "the row: its version, the release it runs, no open offer")
    t.eq([k for k, _ in ev].count("updated"), 1, "one updated event: %r" % ev)
    t.check(not any(k == "failed" for k, _ in ev), "no failed event: %r" % ev)
    t.eq(pair[1].device("5C:CF:7F:BB:00:01").get("running_release"), rel.id,
         "b reads the same row")
    same_records(t, got, want, "update")


def failing_story(h, t, a, b, channel, mac):
    """A device that downloads the release from b and comes back on a on its old image,
    again, until it is held back; then both servers decline it; `device retry` on a, and b
    offers it again. The results of its checks and its records."""
    rel = publish(h, a, DEEPSLEEP, channel)
    time.sleep(SPREAD)
    dev = h.device(mac)
    results = []
    for n in range(1, 6):
        srv = b if n % 2 else a
        r = dev.update(srv.url("/update/" + channel), OLD)
        results.append(r.result)
        if r.result != 2:
            break
        end = time.time() + 10
        while len(srv.events(mac, "download-completed")) < n and time.time() < end:
            time.sleep(0.05)
        time.sleep(REBOOT)
    if results[-1] == 1:
        time.sleep(REBOOT)
        for srv, name in ((a, "a"), (b, "b")):
            t.result(dev.update(srv.url("/update/" + channel), OLD), 1, 0,
                     "held back: %s declines it too" % name)
        st, _ = a.api("POST", "/devices/%s/retry" % mac)
        t.eq(st, 200, "updraft device retry, on a")
        time.sleep(SPREAD)
        staged_is(t, dev.update(b.url("/update/" + channel), OLD), rel.data, None,
                  "after the retry on a: b offers it again")
    return results, records(a, mac, "offered", results.count(2) + (results[-1] == 1))


@case("twoservers")
def failure_across_servers(h, t):
    pair, alone = fleet_pair(h, "ts-fail")
    got_results, got = failing_story(h, t, *pair, "ts-fail", "5C:CF:7F:BB:00:02")
    want_results, want = failing_story(h, t, *alone, "ts-fail", "5C:CF:7F:BB:00:02")
    t.eq(got_results, want_results, "the RESULTs of its checks on two servers as on one")
    t.check(got_results[-1:] == [1], "held back within 5 checks: RESULTs %r" % got_results)
    t.check(any(k == "failed" for k, _ in got[1]), "failed is inferred: %r" % (got[1],))
    same_records(t, got, want, "failures")


GROUPS = sorted({g for g, _, _, _ in CASES})


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    updraft, client_dir, rc_dir, fw_dir, group = sys.argv[1:6]
    only = re.compile(sys.argv[6]) if len(sys.argv) > 6 else None
    if group not in GROUPS and group != "all":
        sys.exit("unknown group %r: one of %s or all" % (group, " ".join(GROUPS)))
    h = Harness(updraft, client_dir, rc_dir, fw_dir)
    h.require_client()
    if not os.path.isfile(os.path.join(fw_dir, "MANIFEST.tsv")):
        print("SKIPPED: the firmware corpus is not at '%s'" % fw_dir)
        sys.exit(77)
    if group == "twoservers" and not h.pg:
        print("SKIPPED: two servers share a fleet only on PostgreSQL: run it as "
              "pg.realclient.twoservers (ctest -L pg)")
        sys.exit(77)
    cases = [("%s.%s" % (g, n), fn, x) for g, n, fn, x in CASES
             if (group == "all" and (h.pg or g != "twoservers") or g == group) and
             (not only or only.search("%s.%s" % (g, n)))]
    t0 = time.time()
    problems = run_cases(h, cases, jobs=4)
    print("%s: %d case(s) in %.1fs, %d problem(s)" % (group, len(cases), time.time() - t0,
                                                      problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
