#!/usr/bin/env python3
"""The updraft Arduino library's examples, built on the esp8266/Arduino core's host emulation
(tests/arduino/build-sketches.sh), run as devices against the real `updraft serve`.

    test_arduino.py UPDRAFT_BIN SKETCH_BUILD_DIR REALCLIENT_DIR FIRMWARE_DIR GROUP

A device here is one folder: its flash (a file the emulated core loads at start and saves
at exit, UPD_FLASH_FILE) and its RTC memory (UPD_RTC_FILE, removed by a power cut). A run of
a sketch is a boot; ESP.restart() ends the process (a reboot), after which `eboot()` does
what the core's boot loader does with the command the sketch left at 0x60001200: copy
the staged image to 0 and clear the command. What is emulated and what is not:
docs/arduino.md, "How it is tested"."""
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "realclient"))
import realclient as rc  # noqa: E402  (Server, Harness, Checks, run_cases)

EBOOT_MAGIC = 0xEB001000
RTC_EBOOT_OFF = 256  # 0x60001200 in the 512 bytes of RTC user memory from 0x60001100
OLD_VERSION = "1.0.0"
NEW_VERSION = "2.0.0"


def crc32_mpeg2(data, crc=0xFFFFFFFF):
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


class Board:
    """One emulated ESP8266 with a persistent flash and RTC memory, running a sketch of the
    build. layout: a core flash layout (4m2m ...); the sketch it runs is `running` (bytes at
    flash 0; its size and MD5 are what ESP.getSketchSize/MD5 report, as on a device)."""

    def __init__(self, h, sketch, running, layout="4m2m", flash_mode="dio", env=None):
        self.h = h
        self.dir = tempfile.mkdtemp(prefix="updraft-ard-", dir=h.tmp)
        self.flash = os.path.join(self.dir, "flash.bin")
        self.rtc = os.path.join(self.dir, "rtc.bin")
        self.mac = h.mac()
        self.sketch = sketch
        self.layout = layout
        self.chip_size, self.fs_start, self.fs_end = h.layout(layout)
        self.flash_mode = flash_mode
        self.env = dict(env or {})
        img = bytearray(b"\xff" * self.chip_size)
        img[:len(running)] = running
        with open(self.flash, "wb") as f:
            f.write(img)
        self.running = bytes(running)

    def read(self, addr, n):
        with open(self.flash, "rb") as f:
            f.seek(addr)
            return f.read(n)

    def write(self, addr, data):
        with open(self.flash, "r+b") as f:
            f.seek(addr)
            f.write(data)

    def boot_command(self):
        """The eboot command in RTC memory: (action, args[0..2]) when magic and CRC are
        valid (eboot_command_read), else None."""
        if not os.path.exists(self.rtc):
            return None
        with open(self.rtc, "rb") as f:
            f.seek(RTC_EBOOT_OFF)
            cmd = f.read(128)
        if len(cmd) < 128:
            return None
        magic, action, a0, a1, a2 = struct.unpack("<5I", cmd[:20])
        crc = struct.unpack("<I", cmd[124:128])[0]
        if magic & 0xFFFFF000 != EBOOT_MAGIC or crc != crc32_mpeg2(cmd[:124]):
            return None
        return action, a0, a1, a2

    def eboot(self):
        """What eboot does at the reset: a valid ACTION_COPY_RAW command copies args[2]
        bytes (whole sectors) from args[0] to args[1], then the command is cleared. The
        sketch at 0 then runs: its length is taken from the command (the image's size).
        Returns the command or None."""
        cmd = self.boot_command()
        if cmd is None:
            return None
        action, src, dst, size = cmd
        if action == 1:
            n = rc.roundup4k(size)
            data = self.read(src, n)
            self.write(dst, data)
            self.running = self.read(dst, size)
        with open(self.rtc, "r+b") as f:
            f.seek(RTC_EBOOT_OFF)
            f.write(b"\0" * 4)
            f.seek(RTC_EBOOT_OFF + 124)
            f.write(b"\0" * 4)
        return cmd

    def power_loss(self):
        if os.path.exists(self.rtc):
            os.unlink(self.rtc)

    def run(self, url, version, until=None, timeout=60, **env):
        """Boot the sketch; stop it (SIGTERM) once a line contains `until`, else wait
        for it to end (ESP.restart() = exit 0). Returns (exit status, output)."""
        e = {k: v for k, v in os.environ.items() if not k.startswith("UPD_")}
        e.update({"UPD_MAC": self.mac, "UPD_CHIP_SIZE": str(self.chip_size),
                  "UPD_SKETCH_SIZE": str(len(self.running)),
                  "UPD_SKETCH_MD5": rc.md5(self.running),
                  "UPD_FREE_SPACE": str(self.fs_start - rc.roundup4k(len(self.running))),
                  "UPD_FS_SIZE": str(self.fs_end - self.fs_start),
                  "UPD_FLASH_MODE": self.flash_mode, "UPD_FLASH_FILE": self.flash,
                  "UPD_RTC_FILE": self.rtc, "UPD_URL": url, "UPD_VERSION": version,
                  "UPD_INTERVAL_MS": "1000"})
        e.update(self.env)
        e.update({k: str(v) for k, v in env.items()})
        p = subprocess.Popen([os.path.join(self.h.client_dir, "bin", self.sketch)], env=e,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out = []
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            for raw in p.stdout:
                line = raw.decode(errors="replace")
                out.append(line)
                if until and until in line:
                    p.send_signal(signal.SIGTERM)
                    threading.Timer(5, p.kill).start()
                    break
            p.stdout.close()
            rc_ = p.wait()
        finally:
            timer.cancel()
        return rc_, "".join(out)


class CutProxy:
    """A TCP proxy on 127.0.0.1 in front of the server that closes the first connection
    after `cut` bytes of the response (a connection lost in the middle of a download);
    later connections pass. Records every request head it saw."""

    def __init__(self, port, cut):
        self.port_to = port
        self.cut = cut
        self.heads = []
        self.times = []
        self.sent = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        n = 0
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            n += 1
            threading.Thread(target=self.one, args=(c, self.cut if n == 1 else None),
                             daemon=True).start()

    def one(self, c, cut):
        s = socket.create_connection(("127.0.0.1", self.port_to))
        head = b""
        while b"\r\n\r\n" not in head:
            d = c.recv(4096)
            if not d:
                break
            head += d
        self.heads.append(head.decode(errors="replace"))
        self.times.append(time.monotonic())
        s.sendall(head)
        total = 0
        while True:
            d = s.recv(4096)
            if not d:
                break
            if cut is not None and total + len(d) >= cut:
                c.sendall(d[:cut - total])
                total = cut
                break
            c.sendall(d)
            total += len(d)
        self.sent.append(total)
        s.close()
        c.shutdown(socket.SHUT_RDWR)
        c.close()

    def close(self):
        self.sock.close()


class ArduinoHarness(rc.Harness):
    """The realclient harness, with a server certificate for the name `localhost` (and
    127.0.0.1): BearSSL, the core's TLS, matches the server name only against the
    certificate's DNS names, never an IP address, so a device checking a CA reaches the
    server by name."""

    def cert(self):
        with self.lock:
            if self._cert is None:
                cert = os.path.join(self.tmp, "cert.pem")
                key = os.path.join(self.tmp, "key.pem")
                subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                "-keyout", key, "-out", cert, "-days", "2", "-subj",
                                "/CN=localhost", "-addext",
                                "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                               check=True, capture_output=True)
                self._cert = (cert, key)
            return self._cert


CASES = []


def case(group):
    def reg(fn):
        CASES.append((group, fn.__name__, fn))
        return fn
    return reg


def images(h):
    """(old, new): the sketch a board runs and the release it is offered (real 4 MB
    Arduino builds from the corpus)."""
    return (h.firmware("esp8266-app_milight-hub"), h.firmware("esp8266-app_wbec"))


def staged_ok(t, b, rel, what):
    """The board holds a valid eboot command for exactly the release's bytes (as the
    Updater writes them: byte 2 = the chip's flash mode) at the Updater's address."""
    cmd = b.boot_command()
    want_start = b.fs_start - rc.roundup4k(len(rel.data))
    if not t.check(cmd is not None, "%s: a valid eboot command at 0x60001200" % what):
        return False
    t.eq(cmd, (1, want_start, 0, len(rel.data)), "%s: eboot command (copy, src, dst, len)" % what)
    t.eq(rc.md5(b.read(want_start, len(rel.data))), rc.md5(rc.as_flashed(rel.data, b.flash_mode)),
         "%s: staged bytes = the release" % what)
    return True


@case("update")
def update_then_report(h, t):
    """BasicUpdate: offered, downloaded with progress, staged, boot command, reboot; after
    eboot the new sketch checks again: 304, and the server records the report."""
    srv = h.server()
    old, new = images(h)
    rel = srv.publish(new, NEW_VERSION, channel="basic")
    b = Board(h, "BasicUpdate", old)
    st, out = b.run(srv.url("/update/basic"), OLD_VERSION)
    t.eq(st, 0, "the sketch rebooted (ESP.restart) after the update")
    t.check("updraft: %d of %d bytes" % (len(new), len(new)) in out,
            "progress reached the end on Serial:\n" + out[-1500:])
    if staged_ok(t, b, rel, "BasicUpdate"):
        b.eboot()
        t.eq(rc.md5(b.read(0, len(new))), rc.md5(rc.as_flashed(new, "dio")),
             "after eboot the new sketch is at 0")
    st, out = b.run(srv.url("/update/basic"), NEW_VERSION, until="next check")
    t.check("updraft: no update" in out, "the new sketch is current (304):\n" + out[-1500:])
    ev = srv.events(b.mac, "report-installed")
    t.check(len(ev) == 1, "the server recorded the report 'installed': %r" % ev)


@case("resume")
def resume_after_cut(h, t):
    """A connection cut in the middle of the body: the check fails (Updater error 6),
    the next check (a jittered second later) asks for the rest with Range and completes;
    the staged bytes are the release."""
    srv = h.server()
    old, new = images(h)
    rel = srv.publish(new, NEW_VERSION, channel="resume")
    cut = 150000
    px = CutProxy(srv.port, cut)
    try:
        b = Board(h, "BasicUpdate", old)
        st, out = b.run("http://127.0.0.1:%d/update/resume" % px.port, OLD_VERSION)
        t.eq(st, 0, "rebooted after the resumed download")
        t.check("updraft: failed: 6 " in out, "the cut download failed with Updater error 6:\n"
                + out[-2000:])
        t.eq(len(px.heads), 2, "two requests")
        if len(px.heads) == 2:
            t.check("Range: bytes=" not in px.heads[0], "the first request has no Range")
            t.check("\r\nRange: bytes=" in px.heads[1] and "-\r\n" in px.heads[1],
                    "the second asks for the rest:\n" + px.heads[1])
            t.check(px.sent[1] < len(new), "the second response is shorter than the image "
                    "(%d of %d bytes)" % (px.sent[1], len(new)))
            # setIntervalMs(1000, 20): the next check 0.8 .. 1.2 s after the failed one
            gap = px.times[1] - px.times[0]
            t.check(0.75 <= gap <= 1.8, "the retry came after the jittered interval "
                    "(1 s +- 20 %%): %.2f s" % gap)
        staged_ok(t, b, rel, "after resume")
    finally:
        px.close()


def read_trace(path):
    """[(op 'E'/'W', n, addr, len)] of a run with UPD_FLASH_TRACE."""
    out = []
    with open(path) as f:
        for line in f:
            op, n, addr, ln = line.split()
            out.append((op, int(n), int(addr, 16), int(ln)))
    return out


def cut_points(trace, state):
    """Cuts at every phase of an update, picked from a clean run's flash calls: the first
    erase and write of the staging area, one in the middle, the last ones; the first saves
    of the resume record in the state sector, one in the middle, and the last three
    erases and writes there (the end: resume record cleared, outcome report written)."""
    pts = []
    for op in ("E", "W"):
        stage = [n for o, n, a, _ in trace if o == op and not state <= a < state + 4096]
        st = [n for o, n, a, _ in trace if o == op and state <= a < state + 4096]
        for lst in (stage, st):
            if lst:
                pick = {lst[0], lst[min(1, len(lst) - 1)], lst[len(lst) // 2]} | set(lst[-3:])
                pts += ["%s:%d" % ("erase" if op == "E" else "write", n) for n in sorted(pick)]
    return pts


@case("powercut")
def power_cut_each_phase(h, t):
    """PowerSafeReport (resume record and report in the EEPROM sector): a power cut at
    each phase leaves the old sketch booting, untouched (RTC memory, and with it any eboot
    command, is lost with the power); the next boot finishes the update, resuming from
    the record when the cut came in the body, and the new sketch boots after eboot."""
    srv = h.server()
    old, new = images(h)
    rel = srv.publish(new, NEW_VERSION, channel="cut")
    state = h.layout("4m2m")[2]  # FS end: the EEPROM sector, the sketch's default
    ref = Board(h, "PowerSafeReport", old)
    tr = os.path.join(ref.dir, "trace")
    st, out = ref.run(srv.url("/update/cut"), OLD_VERSION, UPD_FLASH_TRACE=tr)
    if not t.check(st == 0 and os.path.exists(tr), "reference run updated:\n" + out[-1500:]):
        return
    trace = read_trace(tr)
    t.check(any(state <= a < state + 4096 for _, _, a, _ in trace),
            "the reference run used the state sector 0x%x" % state)
    points = cut_points(trace, state)
    t.note("%d flash calls in a clean run; cuts at %s" % (len(trace), " ".join(points)))
    resumed = 0
    for p in points:
        b = Board(h, "PowerSafeReport", old)
        st, out = b.run(srv.url("/update/cut"), OLD_VERSION, UPD_CUT_AT=p)
        if not t.eq(st, 3, "cut at %s: the power went (exit 3):\n%s" % (p, out[-800:])):
            continue
        t.eq(b.eboot(), None, "cut at %s: no boot command after the power loss" % p)
        t.eq(rc.md5(b.read(0, len(old))), rc.md5(old), "cut at %s: the old sketch is intact" % p)
        px = CutProxy(srv.port, None)
        try:
            st, out = b.run("http://127.0.0.1:%d/update/cut" % px.port, OLD_VERSION)
        finally:
            px.close()
        t.eq(st, 0, "cut at %s: the next boot updates:\n%s" % (p, out[-800:]))
        if px.heads and "\r\nRange: bytes=" in px.heads[0]:
            resumed += 1
        if staged_ok(t, b, rel, "cut at %s, then a full boot" % p):
            b.eboot()
            t.eq(rc.md5(b.read(0, len(new))), rc.md5(rc.as_flashed(new, "dio")),
                 "cut at %s: the new sketch boots after eboot" % p)
    t.check(resumed > 0, "after a cut in the body, the next boot resumes with Range")
    t.note("%d of %d cuts were followed by a resumed download" % (resumed, len(points)))


@case("stock")
def stock_esphttpupdate(h, t):
    """The sketch of docs/arduino.md: the core's own ESPhttpUpdate against /update, nothing
    of updraft on the device. Offered, staged by the core's Updater, eboot command written
    (the core's eboot_command_write), reboot; then current (304)."""
    srv = h.server()
    old, new = images(h)
    rel = srv.publish(new, NEW_VERSION, channel="stock")
    b = Board(h, "StockHttpUpdate", old)
    st, out = b.run(srv.url("/update/stock"), OLD_VERSION)
    t.eq(st, 0, "ESPhttpUpdate rebooted after the update")
    if staged_ok(t, b, rel, "ESPhttpUpdate"):
        b.eboot()
        t.eq(rc.md5(b.read(0, len(new))), rc.md5(rc.as_flashed(new, "dio")),
             "after eboot the new sketch is at 0")
    st, out = b.run(srv.url("/update/stock"), NEW_VERSION, until="result ")
    t.check("result 1 0" in out, "the new sketch is current: HTTP_UPDATE_NO_UPDATES:\n"
            + out[-1500:])
    dev = srv.device(b.mac)
    t.check(dev is not None and NEW_VERSION in str(dev), "the server knows the device runs %s: %r"
            % (NEW_VERSION, dev))


def fingerprint(cert):
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha1"],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1]


@case("tls")
def https_ca_small_buffers(h, t):
    """SecureUpdate over https, the server checked against its certificate as the trust
    anchor, 512-byte TLS buffers after the MFLN probe (accepted by updraft)."""
    srv = h.server("tls", tls=True)
    old, new = images(h)
    rel = srv.publish(new, NEW_VERSION, channel="tls")
    cert, _ = h.cert()
    b = Board(h, "SecureUpdate", old, env={"UPD_CA_FILE": cert, "UPD_TLS_BUFFER": "512"})
    url = srv.url("/update/tls").replace("127.0.0.1", "localhost")
    st, out = b.run(url, OLD_VERSION)
    t.eq(st, 0, "rebooted after the https update:\n" + out[-1500:])
    staged_ok(t, b, rel, "https, CA, 512-byte buffers")
    b.eboot()
    st, out = b.run(url, NEW_VERSION, until="updraft: result")
    t.check("updraft: result 1 error 0" in out and "MFLN accepted" in out,
            "then current over https, MFLN 512 accepted:\n" + out[-1500:])


@case("tls")
def https_fingerprint(h, t):
    """SecureUpdate with the certificate's SHA-1 fingerprint; a wrong fingerprint fails
    to connect (-1) and changes nothing."""
    srv = h.server("tls", tls=True)
    old, new = images(h)
    rel = srv.publish(new, NEW_VERSION, channel="tls")
    cert, _ = h.cert()
    fp = fingerprint(cert)
    wrong = ("00" if not fp.startswith("00") else "11") + fp[2:]
    b = Board(h, "SecureUpdate", old, env={"UPD_FINGERPRINT": wrong, "UPD_TLS_BUFFER": "1024"})
    st, out = b.run(srv.url("/update/tls"), OLD_VERSION, until="updraft: result")
    t.check("updraft: result 0 error -1 " in out, "a wrong fingerprint: connection refused "
            "(-1):\n" + out[-1500:])
    t.eq(b.boot_command(), None, "no boot command after the refused connection")
    b = Board(h, "SecureUpdate", old, env={"UPD_FINGERPRINT": fp, "UPD_TLS_BUFFER": "1024"})
    st, out = b.run(srv.url("/update/tls"), OLD_VERSION)
    t.eq(st, 0, "the right fingerprint: updated:\n" + out[-1500:])
    staged_ok(t, b, rel, "https, fingerprint")


@case("signed")
def signed_only(h, t):
    """SignedUpdate: a release signed as the core's signing.py signs is installed (the
    payload, without signature); an unsigned one and one signed with another key fail
    with Updater error 12 and leave no boot command."""
    srv = h.server()
    old, new = images(h)
    signed, pub = h.signed(new)
    other, _ = h.signed(new, key="other")
    rel = srv.publish(signed, NEW_VERSION, channel="signed")
    b = Board(h, "SignedUpdate", old, env={"UPD_PUBKEY_FILE": pub})
    st, out = b.run(srv.url("/update/signed"), OLD_VERSION)
    t.eq(st, 0, "a signed image is installed:\n" + out[-1500:])
    cmd = b.boot_command()
    start = b.fs_start - rc.roundup4k(len(signed))
    t.eq(cmd, (1, start, 0, len(new)), "the boot command copies the payload only")
    t.eq(rc.md5(b.read(start, len(new))), rc.md5(rc.as_flashed(new, "dio")), "staged payload")
    for name, data in (("unsigned", new), ("another key", other)):
        r = srv.publish(data, "3.0.%d" % len(name), channel="signed-" + name.replace(" ", ""))
        b = Board(h, "SignedUpdate", old, env={"UPD_PUBKEY_FILE": pub})
        st, out = b.run(srv.url("/update/signed-" + name.replace(" ", "")), OLD_VERSION,
                        until="updraft: result")
        t.check("updraft: result 0 error 12 " in out, "%s: Updater error 12:\n%s" % (name, out[-1500:]))
        t.eq(b.boot_command(), None, "%s: no boot command" % name)
        t.eq(rc.md5(b.read(0, len(old))), rc.md5(old), "%s: the running sketch is untouched" % name)


@case("static")
def static_layout(h, t):
    """StaticLayout: <MAC>.version answers the version to run (the device's channel, here
    `stable` by default); the sketch then lets the library fetch <MAC>.bin; after the
    reboot the .version matches and nothing is fetched."""
    srv = h.server("static")
    old, new = images(h)
    rel = srv.publish(new, NEW_VERSION, channel="stable")
    b = Board(h, "StaticLayout", old)
    st, out = b.run("", OLD_VERSION, UPD_BASE=srv.url("/fw/"))
    t.eq(st, 0, "rebooted after fetching <MAC>.bin:\n" + out[-1500:])
    t.check("updraft: %s is offered" % NEW_VERSION in out, "the .version named %s" % NEW_VERSION)
    if staged_ok(t, b, rel, "static layout"):
        b.eboot()
    st, out = b.run("", NEW_VERSION, until="updraft:", UPD_BASE=srv.url("/fw/"))
    t.check("updraft: current (%s)" % NEW_VERSION in out, "then current:\n" + out[-1500:])


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    updraft, build, realclient_dir, firmware_dir, group = sys.argv[1:]
    h = ArduinoHarness(updraft, build, realclient_dir, firmware_dir)
    if not os.path.isfile(os.path.join(realclient_dir, "build.sh")):
        print("SKIPPED: the real ESP8266 core harness is not at '%s' (it lives in "
              "../shared/realclient beside the repository)" % realclient_dir)
        return rc.SKIP
    def noting(name, fn):
        def run(h, t):
            try:
                fn(h, t)
            finally:
                for n in t.log:
                    print("note %s: %s" % (name, n), flush=True)
        return run

    cases = [(name, noting(name, fn), None) for g, name, fn in CASES if g == group]
    if not cases:
        print("no cases in group %r" % group)
        return 2
    try:
        problems = rc.run_cases(h, cases, jobs=2)
    finally:
        bad = h.close()
    for b in bad:
        print("FAIL " + b)
    return 1 if problems or bad else 0


if __name__ == "__main__":
    sys.exit(main())
