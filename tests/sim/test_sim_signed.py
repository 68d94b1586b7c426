#!/usr/bin/env python3
"""A signed fleet in `updraft sim` (docs/signing.md): ESP8266 devices built for signed
updates (--pubkey: the real device engine with the device library's own RSA verifier,
src/client/crypto, as the port's crypto.verify) against the real `updraft serve` on
127.0.0.1:

- a release signed by `updraft sign` with the fleet's key (RSA-2048, and RSA-3072 for a
  fleet holding a 3072-bit key): every device installs it;
- the same release changed after signing (two bits flipped so that the image's own XOR
  checksum still holds: the server and the boot loader would not notice), one bit of
  its signature flipped, one signed with another key, and an unsigned one: every device
  refuses it with Updater error 12 and keeps running its old image (nothing copied,
  nothing bricked); devices without a key install the changed one, so it is the
  signature check that refuses it;
- a key the device library cannot use (RSA-4096, made by openssl when it is there) is
  refused by `updraft sim` with the reason.

usage: test_sim_signed.py UPDRAFT_BINARY MKIMAGE_BINARY
Python 3 standard library only."""
import json
import os
import subprocess
import sys
import tempfile
import time

from simtest import BIN, FAILS, MKIMAGE, Server, check, eq


def sim(srv, *args):
    cmd = [BIN, "sim", "--server", srv.url + "/update", "--json", "--quiet",
           "--max-checks", "3", "--retry-ms", "20"] + list(args)
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
    out = p.stdout.decode().strip().splitlines()
    print("$ %s\n  (%.1f s, exit %d) %s %s" % (" ".join(cmd[1:]), time.time() - t, p.returncode,
                                              out[-1] if out else "", p.stderr.decode()[-300:]),
          flush=True)
    try:
        return p.returncode, json.loads(out[-1])
    except (ValueError, IndexError):
        check(False, "sim printed no JSON: %r" % p.stderr[-300:])
        return p.returncode, {}


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, "updraft %s: %s" % (" ".join(args), p.stderr))


def upload(srv, data, version):
    st, rel = srv.api("POST", "/api/v1/releases?version=%s&channel=stable" % version, data)
    eq(st, 201, "upload %s" % version)


def flip_two_bits(data):
    """Flip bit 0 of two bytes of the application's first segment: its XOR checksum is
    unchanged (the image still inspects as intact), its SHA-256 is not."""
    b = bytearray(data)
    off = 0x1000 + 8 + 8 + 200  # app header, first segment header, into its data
    b[off] ^= 1
    b[off + 1] ^= 1
    return bytes(b)


def main():
    tmp = tempfile.mkdtemp(prefix="updraft-simsigned-")
    key, other = os.path.join(tmp, "fleet.key"), os.path.join(tmp, "other.key")
    key3 = os.path.join(tmp, "fleet3072.key")
    run("keygen", key)
    run("keygen", other)
    run("keygen", key3, "--type", "rsa3072")
    img = os.path.join(tmp, "app.bin")
    subprocess.run([MKIMAGE, "esp8266-app", img, "150000", "7", "2.0.0"], check=True)
    payload = open(img, "rb").read()
    run("sign", img, "--key", key, "-o", img + ".signed")
    signed = open(img + ".signed", "rb").read()
    run("sign", img, "--key", other, "-o", img + ".other")
    run("sign", img, "--key", key3, "-o", img + ".3072")
    signed3 = open(img + ".3072", "rb").read()
    sigflip = bytearray(signed)
    sigflip[len(payload) + 17] ^= 0x10
    cases = [("signed with the fleet's key", signed, True, key),
             ("signed with the fleet's RSA-3072 key", signed3, True, key3),
             ("changed after signing", flip_two_bits(signed[:len(payload)]) +
              signed[len(payload):], False, key),
             ("one bit of the signature flipped", bytes(sigflip), False, key),
             ("RSA-3072 signature, RSA-2048 devices", signed3, False, key),
             ("signed with another key", open(img + ".other", "rb").read(), False, key),
             ("unsigned", payload, False, key)]
    for i, (what, data, good, key) in enumerate(cases):
        srv = Server(tmp, "data%d" % i)
        try:
            upload(srv, data, "2.0.0")
            rc, res = sim(srv, "--devices", "16", "--pubkey", key + ".pub")
            if good:
                eq((rc, res.get("updated"), res.get("failed_total")), (0, 16, 0),
                   "%s: every device installs it" % what)
            else:
                eq(rc, 1, "%s: the run fails" % what)
                eq(res.get("updated"), 0, "%s: no device installs it" % what)
                eq(res.get("failed", {}).get("12"), 16,
                   "%s: every device fails with Updater error 12 (%r)" % (what, res.get("failed")))
                eq((res.get("bricked_client"), res.get("bricked_bootloader")), (0, 0),
                   "%s: nothing bricked" % what)
                eq(res.get("installs"), 0, "%s: nothing copied by eboot" % what)
            if what == "changed after signing":
                rc, res = sim(srv, "--devices", "4", "--seed", "9")
                eq((rc, res.get("updated")), (0, 4),
                   "without a key the devices install the changed image: the signature is "
                   "what refuses it")
        finally:
            srv.stop()
    rc = subprocess.run([BIN, "sim", "--server", "http://127.0.0.1:9/update", "--pubkey",
                         os.path.join(tmp, "missing.pub")], capture_output=True, text=True)
    check(rc.returncode == 2 and "--pubkey" in rc.stderr and "cannot open" in rc.stderr,
          "a missing --pubkey file: %r" % rc.stderr)
    big = os.path.join(tmp, "rsa4096.pem")
    if subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                       "rsa_keygen_bits:4096", "-out", big], capture_output=True).returncode == 0:
        rc = subprocess.run([BIN, "sim", "--server", "http://127.0.0.1:9/update", "--pubkey", big],
                            capture_output=True, text=True)
        check(rc.returncode == 2 and "RSA-4096" in rc.stderr and "2048 to 3072" in rc.stderr,
              "an RSA-4096 --pubkey is refused with the reason: %r" % rc.stderr)
    else:
        print("no openssl: the RSA-4096 refusal is not checked")
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
