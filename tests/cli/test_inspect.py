#!/usr/bin/env python3
"""Black-box tests of `updraft inspect`: the real binary on synthetic files made by
mkimage, and on the real firmware corpus when ../shared/testdata/firmware exists.

usage: test_inspect.py UPDRAFT MKIMAGE [FIRMWARE_DIR]
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

UPDRAFT = MKIMAGE = FIRMWARE = None


def run(*args, stdin=None):
    p = subprocess.run([UPDRAFT, *args], input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class Inspect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.files = {}
        for kind in ("esp8266-app", "esp8266-app-crc", "esp8266-app-gz", "esp32-app",
                     "esp32c3-app", "esp32-bootloader", "html", "empty"):
            path = os.path.join(cls.tmp.name, kind + ".bin")
            subprocess.run([MKIMAGE, kind, path, "150000", "7", "2.4.0"], check=True)
            cls.files[kind] = path

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def json_of(self, *paths, extra=()):
        rc, out, err = run("inspect", "--json", *extra, *paths)
        return rc, json.loads(out), err

    def test_esp8266_app_accepted_with_hashes(self):
        path = self.files["esp8266-app"]
        rc, out, _ = run("inspect", path)
        self.assertEqual(rc, 0)
        self.assertIn("ota-app", out)
        self.assertIn("ESP8266 Arduino application", out)
        self.assertNotIn("\x1b[", out, "no colour when stdout is not a terminal")
        rc, js, _ = self.json_of(path)
        self.assertEqual(rc, 0)
        (r,) = js
        data = open(path, "rb").read()
        self.assertEqual(r["md5"], hashlib.md5(data).hexdigest())
        self.assertEqual(r["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(r["size"], len(data))
        self.assertEqual(r["kind"], "esp8266-app")
        self.assertTrue(r["acceptable"])
        self.assertIsNone(r["error"])
        self.assertEqual(r["platform"], "esp8266")
        self.assertEqual(r["flash"]["size"], 4 * 1024 * 1024)
        self.assertEqual(r["flash"]["mode"], "DIO")
        self.assertEqual(r["app"]["offset"], 0x1000)
        self.assertEqual(len(r["app"]["segments"]), 5)
        self.assertTrue(r["app"]["checksum_ok"])

    def test_core3_crc_words(self):
        rc, (r,), _ = self.json_of(self.files["esp8266-app-crc"])
        self.assertEqual(rc, 0)
        self.assertEqual(r["crc"]["offset"], 0x1010)
        self.assertTrue(r["crc"]["ok"])
        self.assertIn("crc-patched-xor", r["notes"])

    def test_gzip_app(self):
        rc, (r,), _ = self.json_of(self.files["esp8266-app-gz"])
        self.assertEqual(rc, 0)
        self.assertEqual(r["kind"], "gzip")
        self.assertEqual(r["inner_kind"], "esp8266-app")
        self.assertEqual(r["gzip"]["name"], "firmware.bin")
        self.assertGreater(r["inner_size"], r["size"] - 1000)

    def test_esp32_apps(self):
        rc, js, _ = self.json_of(self.files["esp32-app"], self.files["esp32c3-app"])
        self.assertEqual(rc, 0)
        self.assertEqual([r["chip"] for r in js], ["ESP32", "ESP32-C3"])
        for r in js:
            self.assertEqual(r["app_desc"]["version"], "2.4.0")
            self.assertTrue(r["app"]["hash_ok"])

    def test_refusals_name_the_file_and_exit_1(self):
        cases = {
            "esp32-bootloader": ("esp32-bootloader", "boot loader", "UPD_ENOTAPP"),
            "html": ("html", "HTML page", "UPD_ENOTIMAGE"),
            "empty": ("empty", "empty", "UPD_EEMPTY"),
        }
        for name, (kind, words, error) in cases.items():
            with self.subTest(name=name):
                rc, (r,), _ = self.json_of(self.files[name])
                self.assertEqual(rc, 1)
                self.assertFalse(r["acceptable"])
                self.assertEqual(r["kind"], kind)
                self.assertEqual(r["error"], error)
                self.assertIn(words, r["reason"])
                self.assertIn("upload", r["reason"])

    def test_truncated_file(self):
        data = open(self.files["esp8266-app"], "rb").read()
        for cut in (5, 0x1004, len(data) // 2, len(data) - 1):
            with self.subTest(cut=cut):
                path = os.path.join(self.tmp.name, "cut.bin")
                open(path, "wb").write(data[:cut])
                rc, (r,), _ = self.json_of(path)
                self.assertEqual(rc, 1)
                self.assertEqual(r["error"], "UPD_ETRUNC")
                self.assertIn("cut short", r["reason"])

    def test_mixed_files_exit_1_and_keep_order(self):
        rc, js, _ = self.json_of(self.files["esp8266-app"], self.files["html"],
                                 self.files["esp32-app"])
        self.assertEqual(rc, 1)
        self.assertEqual([r["kind"] for r in js], ["esp8266-app", "html", "esp32-app"])

    def test_stdin(self):
        data = open(self.files["esp32-app"], "rb").read()
        rc, out, _ = run("inspect", "--json", "-", stdin=data)
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(out)[0]["sha256"], hashlib.sha256(data).hexdigest())

    def test_filesystem_image_needs_allow_fs(self):
        sb = bytearray(b"\xff" * 8192)
        sb[0:32] = bytes(32)
        sb[8:16] = b"littlefs"
        sb[24:28] = (4096).to_bytes(4, "little")
        sb[28:32] = (2).to_bytes(4, "little")
        path = os.path.join(self.tmp.name, "littlefs.bin")
        open(path, "wb").write(sb)
        rc, (r,), _ = self.json_of(path)
        self.assertEqual((rc, r["verdict"], r["acceptable"]), (1, "fs-image", False))
        rc, (r,), _ = self.json_of(path, extra=("--allow-fs",))
        self.assertEqual((rc, r["acceptable"]), (0, True))

    def test_usage_and_unreadable_files(self):
        rc, _, err = run("inspect")
        self.assertEqual(rc, 2)
        self.assertIn("name at least one file", err)
        rc, out, _ = run("inspect", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("Exit status", out)
        rc, _, err = run("inspect", "/nonexistent/fw.bin")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/fw.bin: No such file or directory", err)
        rc, _, err = run("inspect", self.tmp.name)
        self.assertEqual(rc, 2)
        self.assertIn("is a directory", err)
        rc, _, err = run("inspect", "--bogus", self.files["html"])
        self.assertEqual(rc, 2)
        rc, _, err = run("frobnicate")
        self.assertEqual(rc, 2)
        self.assertIn("unknown command", err)

    def test_real_corpus(self):
        if not FIRMWARE or not os.path.exists(os.path.join(FIRMWARE, "MANIFEST.tsv")):
            self.skipTest("SKIPPED: the real firmware corpus (../shared/testdata/firmware) "
                          "is not beside this clone")
        rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(FIRMWARE, "MANIFEST.tsv"))]
        head, rows = rows[0], rows[1:]
        fi, ki = head.index("file"), head.index("kind")
        apps = {"esp8266-app", "esp8266-app-gz", "esp32-app"}
        for row in rows:
            with self.subTest(file=row[fi]):
                rc, (r,), _ = self.json_of(os.path.join(FIRMWARE, row[fi]))
                self.assertEqual(rc, 0 if row[ki] in apps else 1, r["reason"])
                self.assertEqual(r["acceptable"], row[ki] in apps)

    def test_board_errors(self):
        path = self.files["esp8266-app"]
        for args, words in ((("--board", "3M"), "512K, 1M, 2M, 4M, 8M and 16M"),
                            (("--board", "lots"), "give the flash size"),
                            (("--fs", "64K"), "--fs 64K needs --board"),
                            (("--board", "1M", "--fs", "1000"), "multiple of 4096"),
                            (("--board", "1M", "--fs", "1M"), "at most"),
                            (("--board", "4M", "--fs", "-4K"), "give the filesystem size")):
            with self.subTest(args=args):
                rc, _, err = run("inspect", *args, path)
                self.assertEqual(rc, 2)
                self.assertIn(words, err)
        # not an ESP8266 image: said, no layouts
        rc, out, _ = run("inspect", "--board", "4M", self.files["esp32-app"])
        self.assertEqual(rc, 0)
        self.assertIn("ESP8266 Arduino applications and filesystem images only", out)

    def corpus(self, name):
        p = os.path.join(FIRMWARE or "", name)
        if not FIRMWARE or not os.path.exists(p):
            self.skipTest("SKIPPED: the real firmware corpus (../shared/testdata/firmware) "
                          "is not beside this clone")
        return p

    def test_eboot_inflates_on_the_corpus(self):
        for name, inflates in (("esp8266-app_tasmota-14.3.0.4-de_core2.7.8_1M.bin", True),
                               ("esp8266-app_wbec_pio-espressif8266-4.0.1_core3.0.2_4M.bin", True),
                               ("esp8266-app-gz_tasmota-minimal_release-2022_core2.7.4.9_1M.bin.gz",
                                True),
                               ("esp8266-app_milight-hub_pio-d1mini_core2.5.x_4M.bin", False)):
            with self.subTest(file=name):
                path = self.corpus(name)
                rc, (r,), _ = self.json_of(path)
                self.assertEqual(r["eboot_inflates"], inflates)
                rc, out, _ = run("inspect", path)
                self.assertIn("does not inflate gzip" if not inflates else "inflates gzip updates",
                              out)

    def test_board_layouts_tasmota_1m(self):
        """Tasmota 14.3.0.4 (900528 bytes, core 2.7.8) on 1 MB boards: it can never update
        itself plain; gzip-compressed it can on 1m (no filesystem) only if the sketch area
        holds it and its copy side by side: 1028096 < 900528 + 635452, so no there either;
        the largest sketches are the layout's numbers."""
        path = self.corpus("esp8266-app_tasmota-14.3.0.4-de_core2.7.8_1M.bin")
        rc, (r,), _ = self.json_of(path, extra=("--board", "1M"))
        self.assertEqual(rc, 0)
        lays = {l["name"]: l for l in r["layouts"]}
        self.assertEqual(sorted(lays), sorted(["1m", "1m64", "1m128", "1m144", "1m160", "1m192",
                                               "1m256", "1m512"]))
        g = r["gzip_copy"]
        self.assertEqual(g["inflated_size"], 900528)
        for name, l in lays.items():
            a = l["fs_start"]
            # plain: the running sketch and the new one side by side, in whole sectors
            self.assertEqual(l["largest_plain"], a // 8192 * 4096, name)
            self.assertGreater(l["largest_gzip"], l["largest_plain"], name)
            # the largest gzip sketch: it and its compressed copy fit the sketch area ...
            big = l["largest_gzip"]
            comp = -(-big * g["size"] // 900528)
            self.assertLessEqual(big + (comp + 4095) // 4096 * 4096, a, name)
            # ... and one sector more does not
            big += 4096
            comp = -(-big * g["size"] // 900528)
            self.assertGreater(big + (comp + 4095) // 4096 * 4096, a, name)
            self.assertFalse(l["self_update_plain"]["ok"], name)
        self.assertEqual(lays["1m"]["fs_start"], 0xFB000)
        self.assertEqual(lays["1m64"]["fs_end"], 0xFB000)
        self.assertEqual(lays["1m"]["self_update_plain"]["code"], "no-space")
        self.assertFalse(lays["1m"]["self_update_gzip"]["ok"])
        self.assertFalse(lays["1m512"]["fits_sketch_area"])
        # --fs picks one layout; a size no standard layout has is a custom one
        rc, (r,), _ = self.json_of(path, extra=("--board", "1M", "--fs", "64K"))
        self.assertEqual([l["name"] for l in r["layouts"]], ["1m64"])
        rc, (r,), _ = self.json_of(path, extra=("--board", "1M", "--fs", "20K"))
        self.assertEqual([(l["name"], l["fs_start"]) for l in r["layouts"]],
                         [("custom", 0xFB000 - 20480)])
        # on 4 MB boards it can update itself either way
        rc, (r,), _ = self.json_of(path, extra=("--board", "4M", "--fs", "1M"))
        (l,) = r["layouts"]
        self.assertEqual((l["name"], l["fs_size"]), ("4m1m", 0xFA000))  # named 1M, 1000 KiB
        rc, (r,), _ = self.json_of(path, extra=("--board", "4M", "--fs", "2M"))
        (l,) = r["layouts"]
        self.assertEqual((l["name"], l["self_update_plain"]["ok"], l["self_update_gzip"]["ok"]),
                         ("4m2m", True, True))
        rc, out, _ = run("inspect", "--board", "1M", "--fs", "64K", path)
        self.assertIn("eagle.flash.1m64.ld", out)
        self.assertIn("largest sketch that can update itself: plain 479232 bytes", out)
        self.assertIn("this image (900528 bytes) updating itself: plain no, gzip no", out)

    def test_board_filesystem_image(self):
        """The real LittleFS image (1024000 bytes) against each layout's filesystem area,
        by the fit rules' area (docs/fit-rules.md): it fills 4m1m and 2m1m exactly."""
        path = self.corpus("esp8266-littlefs_wbec_1000K.bin")
        for board, fits in (("4M", {"4m1m", "4m2m", "4m3m"}), ("2M", {"2m1m"}),
                            ("1M", set()), ("16M", {"16m14m", "16m15m"})):
            with self.subTest(board=board):
                rc, (r,), _ = self.json_of(path, extra=("--allow-fs", "--board", board))
                self.assertEqual(rc, 0)
                got = {l["name"] for l in r["layouts"] if l["fs_fit"]["ok"]}
                self.assertEqual(got, fits)
                for l in r["layouts"]:
                    if not l["fs_fit"]["ok"]:
                        self.assertEqual(l["fs_fit"]["code"], "no-space")
                        self.assertIn("-100", l["fs_fit"]["explanation"])
        rc, out, _ = run("inspect", "--allow-fs", "--board", "2M", "--fs", "512K", path)
        self.assertIn("eagle.flash.2m512.ld: filesystem 0x180000..0x1fa000 (499712 bytes): no:",
                      out)

    def test_board_old_core_has_no_gzip(self):
        path = self.corpus("esp8266-app_milight-hub_pio-d1mini_core2.5.x_4M.bin")
        rc, (r,), _ = self.json_of(path, extra=("--board", "4M", "--fs", "1M"))
        (l,) = r["layouts"]
        self.assertIsNone(l["largest_gzip"])
        self.assertTrue(l["self_update_plain"]["ok"])
        self.assertFalse(l["self_update_gzip"]["ok"])
        self.assertEqual(l["self_update_gzip"]["code"], "n/a")


def needs_corpus(test):
    """Does this test read the real corpus (FIRMWARE or self.corpus())?"""
    import inspect
    src = inspect.getsource(getattr(type(test), test._testMethodName))
    return "FIRMWARE" in src or "self.corpus(" in src


if __name__ == "__main__":
    # ctest runs this twice: cli.inspect (no FIRMWARE_DIR) runs the tests on synthetic
    # files; cli.inspect.corpus (FIRMWARE_DIR) runs the tests that read the real corpus,
    # and exits 77 (ctest: Skipped) when it is not there
    UPDRAFT, MKIMAGE = sys.argv[1], sys.argv[2]
    FIRMWARE = sys.argv[3] if len(sys.argv) > 3 else None
    if FIRMWARE and not os.path.exists(os.path.join(FIRMWARE, "MANIFEST.tsv")):
        print("SKIPPED: the real firmware corpus is not at %s (it lives in "
              "../shared/testdata/firmware beside the clone)" % FIRMWARE)
        sys.exit(77)
    tests = [t for t in unittest.TestLoader().loadTestsFromTestCase(Inspect)
             if needs_corpus(t) == bool(FIRMWARE)]
    result = unittest.TextTestRunner(verbosity=2).run(unittest.TestSuite(tests))
    sys.exit(0 if result.wasSuccessful() and not result.skipped else 1)
