#!/usr/bin/env python3
"""Signed releases on the server (docs/signing.md "On the server"): a channel that requires
a key refuses unsigned and wrongly signed images at upload, at `channel set` and when a
release replaces one it serves; `serve --sign-key` + `release add --sign` sign uploads
with a key the API never shows; a signed release gets no unsigned gzip copy and a device
running it is current (no loop). The real `updraft serve` on 127.0.0.1, the real `updraft`
CLI, keys made by `updraft keygen`, signatures checked by openssl.

usage: test_signed.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: channel sign delivery pin"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request, events, md5

TMP = tempfile.TemporaryDirectory(prefix="updraft-signed-")


def path(name):
    return os.path.join(TMP.name, name)


def run(args, srv=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPDRAFT_")}
    if srv:
        env.update(UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
    p = subprocess.run([t.BIN] + list(args), capture_output=True, text=True, env=env,
                       input=stdin, timeout=60)
    return p.returncode, p.stdout, p.stderr


def keygen(name, typ="rsa2048"):
    rc, _, err = run(["keygen", path(name), "--type", typ])
    eq(rc, 0, "keygen %s: %s" % (name, err))
    return path(name), path(name) + ".pub"


def sign(data, key, name):
    src = path(name + ".bin")
    open(src, "wb").write(data)
    rc, _, err = run(["sign", src, "--key", key, "-o", path(name + ".signed"), "--force"])
    eq(rc, 0, "sign %s: %s" % (name, err))
    return open(path(name + ".signed"), "rb").read()


def verifies(data, pub):
    f = path("check.bin")
    open(f, "wb").write(data)
    rc, out, _ = run(["inspect", "--json", "--pubkey", pub, f])
    return json.loads(out)[0].get("signature", {}).get("status")


def stable8266(srv):
    """The ESP8266 sketch row of channel stable."""
    rows = [c for c in srv.api("GET", "/api/v1/channels").json["channels"]
            if c["name"] == "stable" and c["platform"] == "esp8266" and c["mode"] == "sketch"]
    eq(len(rows), 1, "channel stable serves one ESP8266 sketch release")
    return rows[0] if rows else {}


def t_channel():
    key, pub = keygen("fleet.key")
    other, _ = keygen("other.key")
    srv = Server()
    try:
        app = arduino_bin(seed=301)
        signed = sign(app, key, "a1")
        wrong = sign(app, other, "a1w")
        # unsigned release first, then the requirement: refused while the channel serves it
        r = srv.upload(app, "1.0", "stable")
        eq(r.status, 201, "unsigned release on a channel without requirement")
        unsigned_id = r.json["id"]
        rc, out, err = run(["channel", "set", "stable", "--require-signed", pub], srv)
        check(rc == 1 and "cannot require" in err and "current release %d" % unsigned_id in err
              and "unsigned" in err, "require on a channel serving an unsigned image: %r" % err)
        eq(stable8266(srv)["require_signed"], None,
           "nothing changed")
        # the signed release and the requirement in one step
        r = srv.upload(signed, "1.1")
        eq(r.status, 201, "signed release uploaded without channel")
        sid = r.json["id"]
        rc, out, err = run(["channel", "set", "stable", str(sid), "--require-signed", pub], srv)
        eq(rc, 0, "channel set with the signed release and the key: %s" % err)
        check("requires ESP8266 releases signed with RSA-2048 key" in out, "says so: %r" % out)
        ch = stable8266(srv)
        kid = ch["require_signed"]["key_id"]
        eq(len(kid), 64, "the key id is shown")
        check("BEGIN" not in json.dumps(ch), "the channel list shows the key's id, not PEM")
        ev = [e for e in events(srv, None, "channel-signing")]
        check(ev and kid[:16] in ev[0]["detail"], "a channel-signing event: %r" % ev)
        # uploads to the channel: unsigned, other key, other length refused with the reason
        k3, _ = keygen("k3.key", "rsa3072")
        for data, ver, words in ((arduino_bin(seed=302), "1.2", "unsigned"),
                                 (sign(arduino_bin(seed=303), other, "o"), "1.3",
                                  "does NOT verify with this key"),
                                 (sign(arduino_bin(seed=304), k3, "l"), "1.4",
                                  "384-byte signature")):
            r = srv.upload(data, ver, "stable")
            check(r.status == 422 and r.json.get("kind") == "signature" and
                  words in r.json.get("error", "") and kid[:16] in r.json["error"],
                  "upload %s refused with the reason: %d %r" % (ver, r.status, r.json))
        eq([x["version"] for x in srv.api("GET", "/api/v1/releases").json["releases"]
            if x["version"] in ("1.2", "1.3", "1.4")], [], "nothing stored")
        # through the CLI, in its words
        f = path("unsigned.bin")
        open(f, "wb").write(arduino_bin(seed=305))
        rc, out, err = run(["release", "add", f, "--version", "1.5", "--channel", "stable"], srv)
        check(rc == 1 and "refused" in err and "unsigned" in err and "updraft sign" in err,
              "release add to the channel: %r" % err)
        # channel set of an unsigned / wrongly signed release
        w = srv.upload(wrong, "1.6").json["id"]
        for rid, words in ((unsigned_id, "unsigned"), (w, "does NOT verify")):
            rc, out, err = run(["channel", "set", "stable", str(rid)], srv)
            check(rc == 1 and words in err, "channel set %d refused: %r" % (rid, err))
        eq(stable8266(srv)["release"], sid,
           "the channel still serves the signed release")
        # a correctly signed upload goes on
        r = srv.upload(sign(arduino_bin(seed=306), key, "ok"), "1.7", "stable")
        eq(r.status, 201, "a signed upload to the channel: %r" % r.json)
        newest = r.json["id"]
        # retiring it with a fall-back to the release before it (1.6, signed with another
        # key): refused, the channel keeps serving a release its devices take
        r = srv.api("POST", "/api/v1/releases/%d/retire" % newest, {"fallback": "previous"})
        check(r.status == 409 and r.json.get("kind") == "signature" and
              "does NOT verify" in r.json.get("error", ""),
              "retire --fallback previous onto a wrongly signed release: %d %r" % (r.status, r.json))
        eq(stable8266(srv)["release"], newest, "the channel still serves 1.7")
        # replacing the release a signed channel serves with an unsigned build: refused
        r = srv.upload(arduino_bin(seed=307), "1.7", same_version="replace")
        check(r.status == 422 and "stable" in r.json.get("error", ""),
              "an unsigned replacement of the channel's release: %d %r" % (r.status, r.json))
        # ESP32 releases are not checked (their devices do not verify this format)
        r = srv.upload(t.esp32_app(seed=308), "2.0", "stable")
        eq(r.status, 201, "an unsigned ESP32 release on the channel: %r" % r.json)
        # a bad key: ECDSA, a non-key
        ec, ecpub = keygen("ec.key", "ecdsa-p256")
        rc, _, err = run(["channel", "set", "stable", "--require-signed", ecpub], srv)
        check(rc == 2 and "RSA signatures only" in err, "ECDSA key refused by the CLI: %r" % err)
        r = srv.api("PUT", "/api/v1/channels/stable", {"require_signed": open(ecpub).read()})
        check(r.status == 400 and "RSA signatures only" in r.json.get("error", ""),
              "ECDSA key refused by the API: %r" % r.json)
        r = srv.api("PUT", "/api/v1/channels/stable", {"require_signed": "hello"})
        check(r.status == 400 and r.json.get("kind") == "bad-key", "not a key: %r" % r.json)
        # a private key given to the CLI: only its public half goes to the server
        rc, out, err = run(["channel", "set", "beta", "--require-signed", key, "--create"], srv)
        eq(rc, 0, "require with the private key file: %s" % err)
        # the requirement survives a restart; '-' drops it
        first = srv  # keeps its temporary folder (the data) alive
        first.stop()
        srv = Server(data=first.data)
        r = srv.upload(arduino_bin(seed=309), "1.8", "stable")
        eq(r.status, 422, "after a restart the channel still requires the key: %r" % r.json)
        rc, out, err = run(["channel", "set", "stable", "--require-signed", "-"], srv)
        check(rc == 0 and "requires no signatures" in out, "dropped: %r %r" % (out, err))
        r = srv.upload(arduino_bin(seed=309), "1.8", "stable")
        eq(r.status, 201, "then an unsigned upload is taken")
        eq(stable8266(srv)["release"], r.json["id"],
           "and served")
        check(newest > 0, "ids")
    finally:
        srv.stop()


def t_sign():
    key, pub = keygen("server.key")
    srv = Server()
    try:
        f = path("plain.bin")
        open(f, "wb").write(arduino_bin(seed=321))
        rc, _, err = run(["release", "add", f, "--version", "1.0", "--sign"], srv)
        check(rc == 1 and "--sign" in err and "--sign-key" in err,
              "a server without a key says how to give it one: %r" % err)
    finally:
        srv.stop()
    ec, _ = keygen("server-ec.key", "ecdsa-p256")
    p = subprocess.run([t.BIN, "serve", "--listen", "127.0.0.1:0", "--data", path("ecdata"),
                        "--sign-key", ec], capture_output=True, text=True, timeout=20)
    check(p.returncode == 1 and "RSA signatures only" in p.stderr,
          "an ECDSA --sign-key stops the start with the reason: %r" % p.stderr)
    p = subprocess.run([t.BIN, "serve", "--listen", "127.0.0.1:0", "--data", path("pubdata"),
                        "--sign-key", pub], capture_output=True, text=True, timeout=20)
    check(p.returncode == 1 and "is a public key" in p.stderr, "a public --sign-key: %r" % p.stderr)
    srv = Server(extra=["--sign-key", key])
    try:
        check(any("signs uploads on request" in l for l in srv.out), "the start says it signs")
        app = open(f, "rb").read()
        rc, out, err = run(["release", "add", f, "--version", "1.0", "--sign", "--channel",
                            "stable"], srv)
        eq(rc, 0, "release add --sign: %s" % err)
        check("signed by the server's key" in out, "says so: %r" % out)
        rel = srv.api("GET", "/api/v1/releases").json["releases"][0]
        eq(rel["size"], len(app) + 256 + 4, "the release is the signed file")
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E2:01"))
        eq(r.status, 200, "a device gets it")
        eq(r.body[:len(app)], app, "payload first")
        eq(r.body, app + openssl_sig(app, key) + (256).to_bytes(4, "little"),
           "byte for byte what openssl's signature makes")
        eq(verifies(r.body, pub), "verifies", "the served file verifies with the public key")
        # the key never shows through the API
        keytext = open(key).read()
        body = "".join(l for l in keytext.splitlines() if "-----" not in l)
        for p_ in ("/api/v1/releases", "/api/v1/channels", "/api/v1/releases/%d" % rel["id"],
                   "/api/v1/events", "/api/v1/devices"):
            rr = srv.api("GET", p_)
            text = rr.body.decode("latin-1") if isinstance(rr.body, bytes) else str(rr.body)
            check(body[:40] not in text and "PRIVATE" not in text, "%s shows no key" % p_)
        # already signed, an ESP32 image: refused with the reason
        r = srv.upload(r.body, "1.1", sign="1")
        check(r.status == 422 and "signed already" in r.json.get("error", ""),
              "signing a signed file: %r" % r.json)
        r = srv.upload(arduino_bin(seed=322), "1.2", sign="maybe")
        eq(r.status, 400, "sign must be 1 or 0")
        # the signed release does not loop: the device reports its payload's MD5
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E2:02", md5sum=md5(app),
                                    size=len(app), version="1.0"))
        eq(r.status, 304, "a device running the signed release's payload is current")
    finally:
        srv.stop()


def openssl_sig(data, key):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                          capture_output=True, check=True).stdout


def t_delivery():
    """A signed ESP8266 release gets no gzip copy: the copy would carry no signature and a
    device that verifies would refuse it (Updater error 12)."""
    fw = t.FWDIR
    full = os.path.join(fw, "esp8266-app_tasmota-14.3.0.4-de_core2.7.8_1M.bin")
    mini = os.path.join(fw, "esp8266-app-gz_tasmota-minimal_release-2022_core2.7.4.9_1M.bin.gz")
    if not (os.path.exists(full) and os.path.exists(mini)):
        print("SKIPPED: the firmware corpus (%s) is not there" % fw)
        sys.exit(77)
    key, pub = keygen("d.key")
    srv = Server()
    try:
        data = open(full, "rb").read()
        minimal = gzip.decompress(open(mini, "rb").read())
        srv.upload(open(mini, "rb").read(), "14.0.0", "minimal")
        signed = sign(data, key, "tas")
        r = srv.upload(signed, "14.3.0.4", "stable")
        eq(r.status, 201, "signed Tasmota release")
        eq(r.json["gzip"], None, "a signed release gets no gzip copy")
        # a device running tasmota-minimal (eboot inflates) on a 4 MB board: the plain,
        # signed file, where an unsigned release would go as its gzip copy
        mac = "DE:BA:7A:00:02:01"
        r = srv.raw(esp8266_request(srv.port, mac=mac, size=len(minimal), md5sum=md5(minimal),
                                    version="14.0.0"))
        eq(r.status, 200, "offered")
        eq(r.body, signed, "the signed file itself, not a gzip copy")
        eq(verifies(r.body, pub), "verifies", "what the device gets verifies")
        # once installed the device reports the payload's MD5: current
        r = srv.raw(esp8266_request(srv.port, mac=mac, size=len(data), md5sum=md5(data),
                                    version="14.3.0.4"))
        eq(r.status, 304, "the device running the signed release is current")
        # a signed .bin.gz is served as it is
        gz = sign(open(mini, "rb").read(), key, "minigz")
        r = srv.upload(gz, "14.0.1", "gzsigned")
        eq(r.status, 201, "a signed .bin.gz release: %r" % r.json)
        eq(verifies(gz, pub), "verifies", "a signed .bin.gz verifies")
    finally:
        srv.stop()


def t_pin():
    """A device whose channel requires a key cannot be pinned to a release that key does not
    verify (not even with force: the device itself would refuse the image, Updater error
    12, after downloading it), nor can a rollout offer such a release to a target holding
    devices on that channel; devices on other channels can."""
    key, pub = keygen("pin.key")
    other, _ = keygen("pin-other.key")
    srv = Server()
    try:
        app = arduino_bin(seed=401)
        sid = srv.upload(sign(app, key, "p1"), "1.0").json["id"]
        rc, _, err = run(["channel", "set", "stable", str(sid), "--require-signed", pub], srv)
        eq(rc, 0, "stable requires the key: %s" % err)
        eq(srv.upload(arduino_bin(seed=402), "0.9", "beta").status, 201, "beta, unsigned")
        on_stable, on_beta = "5C:CF:7F:00:30:01", "5C:CF:7F:00:30:02"
        eq(srv.raw(esp8266_request(srv.port, mac=on_stable, version="0.1")).status, 200,
           "a device checks on stable")
        eq(srv.raw(esp8266_request(srv.port, path="/update/beta", mac=on_beta,
                                   version="0.1")).status, 200, "a device checks on beta")
        unsigned = srv.upload(arduino_bin(seed=403), "2.0").json["id"]
        wrong = srv.upload(sign(arduino_bin(seed=404), other, "p2"), "2.1").json["id"]
        good = srv.upload(sign(arduino_bin(seed=405), key, "p3"), "2.2").json["id"]
        for rid, words in ((unsigned, "is unsigned"), (wrong, "does NOT verify")):
            for body in ({"release": rid}, {"release": rid, "force": True}):
                r = srv.api("POST", "/api/v1/devices/%s/pin" % on_stable, body)
                check(r.status == 409 and r.json.get("kind") == "unsigned-for-channel" and
                      words in r.json.get("error", "") and "channel 'stable'" in r.json["error"]
                      and "Updater error 12" in r.json["error"],
                      "pin to release %d %r refused with the reason: %d %r" % (
                          rid, body, r.status, r.json))
        d = srv.api("GET", "/api/v1/devices/" + on_stable).json
        eq(d["pinned_release"], None, "nothing pinned")
        rc, _, err = run(["device", "pin", on_stable, str(unsigned), "--force"], srv)
        check(rc == 1 and "is unsigned" in err and "updraft device channel" in err,
              "the CLI says why: %r" % err)
        eq(srv.api("POST", "/api/v1/devices/%s/pin" % on_stable, {"release": good}).status, 200,
           "a release signed with the key is pinned")
        eq(srv.api("POST", "/api/v1/devices/%s/pin" % on_beta, {"release": unsigned}).status,
           200, "a device on a channel without the requirement is pinned to the unsigned one")
        eq(srv.raw(esp8266_request(srv.port, mac="5C:CF:7F:00:30:03", version="0.1")).status,
           200, "a device the pin never named")
        eq(srv.api("POST", "/api/v1/devices/5C:CF:7F:00:30:09/pin", {"release": unsigned}).status,
           200, "a device never seen has no channel to judge by: pinned")
        # rollouts: a target with devices on stable is refused, one without them is not
        rc, _, err = run(["rollout", "create", "--release", str(unsigned), "--target", "all"],
                         srv)
        check(rc == 1 and "2 device(s) of the target" in err and "channel 'stable'" in err and
              "is unsigned" in err and "channel!=stable" in err,
              "rollout of the unsigned release to every device refused: %r" % err)
        r = srv.api("POST", "/api/v1/rollouts", {"release": wrong, "target": "platform=esp8266"})
        check(r.status == 409 and "does NOT verify" in r.json.get("error", ""),
              "through the API: %d %r" % (r.status, r.json))
        rc, out, err = run(["rollout", "create", "--release", str(unsigned), "--target",
                            "channel!=stable"], srv)
        eq(rc, 0, "the target without the devices on stable: %s" % err)
        rc, out, err = run(["rollout", "create", "--release", str(good), "--target",
                            "channel=stable"], srv)
        eq(rc, 0, "a release the key verifies, to stable's devices: %s" % err)
    finally:
        srv.stop()


GROUPS = {"channel": t_channel, "sign": t_sign, "delivery": t_delivery, "pin": t_pin}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
