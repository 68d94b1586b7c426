#!/usr/bin/env python3
"""Black-box tests of `updraft keygen`, `updraft sign` and `updraft inspect --pubkey`
(docs/signing.md): the real binary, with openssl as the independent reference (the
ESP8266 core's tools/signing.py signs with `openssl dgst -sha256 -sign KEY` and appends
the length word 00 01 00 00), the core's own example key pair from the real client's
tarball (../shared/realclient), and the real firmware corpus.

usage: test_signing.py UPDRAFT MKIMAGE TARBALL FIRMWARE_DIR [GROUP]
GROUP: cli (default) or corescript (runs the core's tools/signing.py from the tarball;
SKIPPED, exit 77, when the tarball does not hold it or python3 lacks what it needs).
"""
import hashlib
import json
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import unittest

UPDRAFT = MKIMAGE = TARBALL = FIRMWARE = None
EXAMPLE = "Arduino/libraries/ESP8266httpUpdate/examples/httpUpdateSigned/"
SKIP = 77


def run(*args, stdin=None):
    p = subprocess.run([UPDRAFT, *args], input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True,
                          timeout=60).stdout


def script_sign(data, key):
    """What the core's tools/signing.py writes: data, `openssl dgst -sha256 -sign key`,
    then the length word it hard-codes (256, little-endian)."""
    return data + openssl("dgst", "-sha256", "-sign", key, stdin=data) + b"\x00\x01\x00\x00"


def from_tarball(names, dest):
    """Extract members (paths inside the tarball) into dest; {name: path} of those found."""
    out = {}
    if not TARBALL or not os.path.exists(TARBALL):
        return out
    with tarfile.open(TARBALL) as t:
        have = set(t.getnames())
        for n in names:
            if n in have:
                t.extract(n, dest, filter="data")
                out[n] = os.path.join(dest, n)
    return out


class Signing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = cls.tmp.name
        cls.app = cls.path("app.bin")
        subprocess.run([MKIMAGE, "esp8266-app", cls.app, "150000", "7", "2.4.0"], check=True)
        cls.html = cls.path("page.bin")
        subprocess.run([MKIMAGE, "html", cls.html, "150000", "7", "2.4.0"], check=True)
        cls.esp32 = cls.path("esp32.bin")
        subprocess.run([MKIMAGE, "esp32-app", cls.esp32, "150000", "7", "2.4.0"], check=True)
        got = from_tarball([EXAMPLE + "private.key", EXAMPLE + "public.key"], cls.d)
        if len(got) == 2:
            cls.core_priv, cls.core_pub = got[EXAMPLE + "private.key"], got[EXAMPLE + "public.key"]
        else:
            print("note: the core's example key pair is not available (%s); using a fresh "
                  "key instead" % TARBALL)
            cls.core_priv = cls.path("core.key")
            rc, _, err = run("keygen", cls.core_priv, "--pub", cls.path("core.pub"))
            assert rc == 0, err
            cls.core_pub = cls.path("core.pub")
        cls.other = cls.path("other.key")
        rc, _, err = run("keygen", cls.other)
        assert rc == 0, err

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.d, name)

    def inspect_sig(self, path, key):
        rc, out, err = run("inspect", "--json", "--pubkey", key, path)
        (r,) = json.loads(out)
        return rc, r

    # ---- keygen --------------------------------------------------------------------

    def test_keygen_rsa_files_modes_and_openssl_agrees(self):
        for typ, bits in (("rsa2048", 2048), ("rsa3072", 3072)):
            k = self.path("kg-%s.pem" % typ)
            rc, out, err = run("keygen", k, "--type", typ)
            self.assertEqual(rc, 0, err)
            self.assertIn("RSA-%d" % bits, out)
            self.assertEqual(stat.S_IMODE(os.stat(k).st_mode), 0o600)
            self.assertTrue(os.path.exists(k + ".pub"))
            self.assertIn(b"-----BEGIN PUBLIC KEY-----", open(k + ".pub", "rb").read())
            self.assertFalse(os.stat(k + ".pub").st_mode & 0o022, "public key not world-writable")
            text = openssl("rsa", "-in", k, "-noout", "-text").decode()
            self.assertIn("(%d bit" % bits, text)
            # the public file is the private key's public half
            self.assertEqual(openssl("rsa", "-in", k, "-pubout"), open(k + ".pub", "rb").read())
            leftovers = [n for n in os.listdir(self.d) if ".tmp-" in n]
            self.assertEqual(leftovers, [])

    def test_keygen_ecdsa_p256(self):
        k = self.path("ec.pem")
        rc, out, err = run("keygen", k, "--type", "ecdsa-p256", "--pub", self.path("ec.pub"))
        self.assertEqual(rc, 0, err)
        self.assertIn("ECDSA P-256", out)
        self.assertIn("RSA signatures only", out)
        self.assertIn("prime256v1", openssl("pkey", "-in", k, "-noout", "-text").decode())
        self.assertEqual(stat.S_IMODE(os.stat(k).st_mode), 0o600)

    def test_keygen_never_overwrites_without_force(self):
        k = self.path("keep.pem")
        self.assertEqual(run("keygen", k)[0], 0)
        before = open(k, "rb").read(), open(k + ".pub", "rb").read()
        rc, _, err = run("keygen", k)
        self.assertEqual(rc, 1)
        self.assertIn("exists", err)
        self.assertIn("--force", err)
        self.assertEqual((open(k, "rb").read(), open(k + ".pub", "rb").read()), before)
        # only the public file exists: still nothing written
        k2 = self.path("half.pem")
        open(k2 + ".pub", "w").write("mine\n")
        self.assertEqual(run("keygen", k2)[0], 1)
        self.assertFalse(os.path.exists(k2))
        self.assertEqual(open(k2 + ".pub").read(), "mine\n")
        rc, _, err = run("keygen", k, "--force")
        self.assertEqual(rc, 0, err)
        self.assertNotEqual(open(k, "rb").read(), before[0])
        self.assertEqual(stat.S_IMODE(os.stat(k).st_mode), 0o600)

    def test_keygen_usage_errors(self):
        rc, _, err = run("keygen", self.path("x.pem"), "--type", "rsa1024")
        self.assertEqual(rc, 2)
        self.assertIn("rsa2048, rsa3072 or ecdsa-p256", err)
        self.assertEqual(run("keygen")[0], 2)
        rc, _, err = run("keygen", self.path("nodir/x.pem"))
        self.assertEqual(rc, 1)
        self.assertIn("cannot write", err)

    # ---- sign ----------------------------------------------------------------------

    def test_sign_is_byte_identical_to_the_cores_signing(self):
        data = open(self.app, "rb").read()
        out = self.path("app.core.signed")
        rc, so, err = run("sign", self.app, "--key", self.core_priv, "-o", out)
        self.assertEqual(rc, 0, err)
        self.assertIn("256-byte signature", so)
        self.assertEqual(open(out, "rb").read(), script_sign(data, self.core_priv))
        corpus = os.path.join(FIRMWARE or "", "esp8266-app_wbec_pio-espressif8266-4.0.1_core3.0.2_4M.bin")
        if os.path.exists(corpus):
            out2 = self.path("wbec.signed")
            self.assertEqual(run("sign", corpus, "--key", self.core_priv, "-o", out2)[0], 0)
            self.assertEqual(open(out2, "rb").read(),
                             script_sign(open(corpus, "rb").read(), self.core_priv))

    def test_sign_rsa3072_writes_the_true_length(self):
        k = self.path("k3.pem")
        self.assertEqual(run("keygen", k, "--type", "rsa3072")[0], 0)
        out = self.path("app.k3.signed")
        self.assertEqual(run("sign", self.app, "--key", k, "-o", out)[0], 0)
        signed = open(out, "rb").read()
        data = open(self.app, "rb").read()
        self.assertEqual(signed[-4:], (384).to_bytes(4, "little"))
        self.assertEqual(signed[:len(data)], data)
        sig = signed[len(data):-4]
        self.assertEqual(sig, openssl("dgst", "-sha256", "-sign", k, stdin=data))
        rc, r = self.inspect_sig(out, k + ".pub")
        self.assertEqual((rc, r["signature"]["status"]), (0, "verifies"))

    def test_openssl_verifies_updraft_signatures(self):
        out = self.path("app.other.signed")
        self.assertEqual(run("sign", self.app, "--key", self.other, "-o", out)[0], 0)
        signed = open(out, "rb").read()
        n = int.from_bytes(signed[-4:], "little")
        payload, sig = signed[:-4 - n], signed[-4 - n:-4]
        open(self.path("o.sig"), "wb").write(sig)
        res = subprocess.run(["openssl", "dgst", "-sha256", "-verify", self.other + ".pub",
                              "-signature", self.path("o.sig")], input=payload,
                             capture_output=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(b"Verified OK", res.stdout)

    def test_sign_default_output_and_no_overwrite(self):
        src = self.path("def.bin")
        open(src, "wb").write(open(self.app, "rb").read())
        rc, _, err = run("sign", src, "--key", self.other)
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(src + ".signed"))
        before = open(src + ".signed", "rb").read()
        rc, _, err = run("sign", src, "--key", self.core_priv)
        self.assertEqual(rc, 1)
        self.assertIn("exists", err)
        self.assertEqual(open(src + ".signed", "rb").read(), before)
        self.assertEqual(run("sign", src, "--key", self.core_priv, "--force")[0], 0)
        self.assertNotEqual(open(src + ".signed", "rb").read(), before)

    def test_sign_refusals_say_why(self):
        cases = [
            (("sign", self.html, "--key", self.other), 1, "not an image a device installs"),
            (("sign", self.app, "--key", self.other + ".pub"), 2, "is a public key"),
            (("sign", self.app), 2, "--key KEYFILE"),
            (("sign", self.app, "--key", self.path("missing.key")), 2, "cannot open"),
            (("sign", self.app, "--key", self.html), 2, "not a private key"),
        ]
        ec = self.path("sign-ec.pem")
        self.assertEqual(run("keygen", ec, "--type", "ecdsa")[0], 0)
        cases.append((("sign", self.app, "--key", ec, "-o", self.path("ec.signed")), 1,
                      "verifies RSA signatures only"))
        signed = self.path("twice.signed")
        self.assertEqual(run("sign", self.app, "--key", self.other, "-o", signed)[0], 0)
        cases.append((("sign", signed, "--key", self.core_priv, "-o", self.path("t2")), 1,
                      "signed already"))
        for args, code, text in cases:
            rc, _, err = run(*args)
            self.assertEqual(rc, code, (args, err))
            self.assertIn(text, err, args)
        self.assertFalse(os.path.exists(self.path("ec.signed")))
        self.assertFalse(os.path.exists(self.path("t2")))

    # ---- inspect --pubkey ----------------------------------------------------------

    def test_inspect_pubkey_the_three_answers(self):
        signed = self.path("ins.signed")
        self.assertEqual(run("sign", self.app, "--key", self.core_priv, "-o", signed)[0], 0)
        rc, out, _ = run("inspect", "--pubkey", self.core_pub, signed)
        self.assertEqual(rc, 0)
        self.assertIn("signed, verifies", out)
        rc, out, _ = run("inspect", "--pubkey", self.other + ".pub", signed)
        self.assertEqual(rc, 1)
        self.assertIn("signed, does NOT verify with this key", out)
        rc, out, _ = run("inspect", "--pubkey", self.core_pub, self.app)
        self.assertEqual(rc, 1)
        self.assertIn("unsigned", out)
        # a private key given as --pubkey: its public half
        rc, r = self.inspect_sig(signed, self.core_priv)
        self.assertEqual((rc, r["signature"]["status"], r["acceptable"]), (0, "verifies", True))
        rc, r = self.inspect_sig(self.app, self.core_pub)
        self.assertEqual((rc, r["signature"]["status"], r["acceptable"]), (1, "unsigned", False))
        # standard input
        rc, out, _ = run("inspect", "--pubkey", self.core_pub, "-", stdin=open(signed, "rb").read())
        self.assertEqual(rc, 0)
        self.assertIn("signed, verifies", out)

    def test_inspect_pubkey_tampered_and_other_length(self):
        signed = bytearray(open(self.app, "rb").read())
        signed = bytes(signed)
        good = self.path("t.signed")
        self.assertEqual(run("sign", self.app, "--key", self.core_priv, "-o", good)[0], 0)
        b = bytearray(open(good, "rb").read())
        b[0x2000] ^= 0x01  # one bit of the payload
        bad = self.path("tampered.signed")
        open(bad, "wb").write(b)
        rc, r = self.inspect_sig(bad, self.core_pub)
        self.assertEqual((rc, r["signature"]["status"]), (1, "does-not-verify"))
        k3 = self.path("len3.pem")
        self.assertEqual(run("keygen", k3, "--type", "rsa3072")[0], 0)
        rc, r = self.inspect_sig(good, k3 + ".pub")
        self.assertEqual((rc, r["signature"]["status"]), (1, "other-key-length"))
        self.assertIn("384-byte", r["signature"]["reason"])

    def test_inspect_recognises_legacy_signatures(self):
        data = open(self.app, "rb").read()
        digest = hashlib.sha256(data).digest()
        sig = openssl("pkeyutl", "-sign", "-inkey", self.core_priv, stdin=digest)
        legacy = self.path("legacy.signed")
        open(legacy, "wb").write(data + sig + b"\x00\x01\x00\x00")
        rc, r = self.inspect_sig(legacy, self.core_pub)
        self.assertEqual((rc, r["signature"]["status"]), (1, "does-not-verify"))
        self.assertIn("legacy format", r["signature"]["reason"])

    def test_signed_gzip_recognised_without_key(self):
        corpus = os.path.join(FIRMWARE or "", "esp8266-app-gz_tasmota-14.3.0.4-de_core2.7.8_1M.bin.gz")
        if not os.path.exists(corpus):
            self.skipTest("corpus not available")
        out = self.path("gz.signed")
        self.assertEqual(run("sign", corpus, "--key", self.core_priv, "-o", out)[0], 0)
        self.assertEqual(open(out, "rb").read(), script_sign(open(corpus, "rb").read(), self.core_priv))
        rc, outp, _ = run("inspect", out)
        self.assertEqual(rc, 0)
        self.assertIn("256-byte signature (an RSA-2048 key's), not checked", outp)
        rc, r = self.inspect_sig(out, self.core_pub)
        self.assertEqual((rc, r["signature"]["status"]), (0, "verifies"))
        rc, r = self.inspect_sig(corpus, self.core_pub)
        self.assertEqual((rc, r["signature"]["status"]), (1, "unsigned"))

    # ---- ESP32: Secure Boot v2 signature sectors --------------------------------------

    def sbv2_signed(self, app, key, digest=None, version=2):
        """app + 0xFF to 4 KB + a Secure Boot v2 sector with one block, laid out as ESP-IDF's
        esp_secure_boot.h documents it (espsecure is not in Debian): the RSA-PSS signature
        (SHA-256, MGF1, 32-byte salt) of the padded image's SHA-256 made by openssl."""
        import zlib
        padded = app + b"\xff" * (-len(app) % 4096)
        d = hashlib.sha256(padded).digest()
        sig = openssl("pkeyutl", "-sign", "-inkey", key, "-pkeyopt", "digest:sha256",
                      "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32",
                      stdin=digest or d)
        text = openssl("rsa", "-in", key, "-noout", "-modulus").decode()
        n = int(text.strip().split("=")[1], 16)
        mdash = (-pow(n, -1, 1 << 32)) % (1 << 32)
        rinv = (1 << (3072 * 2)) % n
        key_part = (n.to_bytes(384, "little") + (65537).to_bytes(4, "little") +
                    rinv.to_bytes(384, "little") + mdash.to_bytes(4, "little"))
        block = bytes([0xE7, version, 0, 0]) + d + key_part + sig[::-1]
        block += zlib.crc32(block).to_bytes(4, "little") + b"\0" * 16
        self.assertEqual(len(block), 1216)
        return padded + block + b"\xff" * (4096 - 1216), hashlib.sha256(key_part).hexdigest()

    def test_esp32_secure_boot_v2(self):
        k = self.path("sb.pem")
        self.assertEqual(run("keygen", k, "--type", "rsa3072")[0], 0)
        app = open(self.esp32, "rb").read()
        signed, kd = self.sbv2_signed(app, k)
        f = self.path("sb.bin")
        open(f, "wb").write(signed)
        rc, out, _ = run("inspect", f)
        self.assertEqual(rc, 0, out)
        self.assertIn("signed for Secure Boot v2", out)
        self.assertIn("key digest " + kd, out)
        rc, js = self.inspect_sig_plain(f)
        sb = js["secure_boot_v2"]
        self.assertTrue(sb["signed"])
        self.assertEqual(sb["sector"], len(app) + (-len(app) % 4096))
        (b,) = sb["blocks"]
        self.assertEqual((b["scheme"], b["crc_ok"], b["digest_ok"], b["signature_ok"],
                          b["key_digest"]), ("RSA-3072", True, True, True, kd))
        # the signature of another digest: the block does not verify
        bad, _ = self.sbv2_signed(app, k, digest=hashlib.sha256(b"other").digest())
        open(f, "wb").write(bad)
        rc, js = self.inspect_sig_plain(f)
        self.assertEqual(js["secure_boot_v2"]["blocks"][0]["signature_ok"], False)
        self.assertIn("does not verify", js["secure_boot_v2"]["verdict"])
        # a damaged block (its CRC)
        dam = bytearray(signed)
        dam[len(signed) - 4096 + 100] ^= 1
        open(f, "wb").write(dam)
        rc, js = self.inspect_sig_plain(f)
        self.assertEqual(js["secure_boot_v2"]["blocks"][0]["crc_ok"], False)
        self.assertIn("refuses it", js["secure_boot_v2"]["verdict"])
        # unsigned: what a device with secure boot does
        rc, out, _ = run("inspect", self.esp32)
        self.assertIn("no Secure Boot v2 signature: a device with Secure Boot v2", out)

    def inspect_sig_plain(self, path):
        rc, out, err = run("inspect", "--json", path)
        (r,) = json.loads(out)
        return rc, r

    def test_inspect_pubkey_bad_key_file(self):
        rc, _, err = run("inspect", "--pubkey", self.html, self.app)
        self.assertEqual(rc, 2)
        self.assertIn("not a PEM public key", err)


def core_script():
    """Run the core's own tools/signing.py from the tarball and compare."""
    with tempfile.TemporaryDirectory() as d:
        got = from_tarball(["Arduino/tools/signing.py", EXAMPLE + "private.key"], d)
        if "Arduino/tools/signing.py" not in got:
            print("SKIPPED: %s does not hold the core's tools/signing.py (the subset carries "
                  "only what the client build needs); cli.signing covers its method: `openssl "
                  "dgst -sha256 -sign` and the 00 01 00 00 length word" % TARBALL)
            return SKIP
        key = got[EXAMPLE + "private.key"]
        app = os.path.join(d, "app.bin")
        subprocess.run([MKIMAGE, "esp8266-app", app, "150000", "7", "2.4.0"], check=True)
        ref = os.path.join(d, "ref.signed")
        subprocess.run([sys.executable, got["Arduino/tools/signing.py"], "--mode", "sign",
                        "--privatekey", key, "--bin", app, "--out", ref], check=True)
        mine = os.path.join(d, "mine.signed")
        rc, _, err = run("sign", app, "--key", key, "-o", mine)
        assert rc == 0, err
        same = open(ref, "rb").read() == open(mine, "rb").read()
        print("updraft sign %s the core's tools/signing.py output" %
              ("matches" if same else "DIFFERS FROM"))
        return 0 if same else 1


if __name__ == "__main__":
    UPDRAFT, MKIMAGE, TARBALL, FIRMWARE = sys.argv[1:5]
    group = sys.argv[5] if len(sys.argv) > 5 else "cli"
    if group == "corescript":
        sys.exit(core_script())
    unittest.main(argv=[sys.argv[0], "-v"])
