"""realclient.py: run the REAL ESP8266 Arduino core OTA client against the real `updraft serve`.

The client is ../shared/realclient (ESPhttpUpdate + HTTPClient + BearSSL + Updater of the
esp8266/Arduino core, built for Linux with the core's host emulation, flash in RAM), built
into the build tree by build-realclient.sh. This module starts servers, publishes releases,
runs the client as a device with a given identity, and parses what it printed:

    srv = h.server()                                  # updraft serve on 127.0.0.1, temp data dir
    rel = srv.publish(h.firmware("esp8266-app_wbec"), "2.0", channel="c1")
    dev = h.device("5C:CF:7F:00:00:01", layout="4m2m", flash_mode="dio")
    r = dev.update(srv.url("/update/c1"), version="1.0")
    t.eq((r.result, r.err), (2, 0), "offered and installed")
    t.eq(r.staged, md5(as_flashed(rel.data, "dio")), "the staged bytes are the release")
    dev.install(r)                                    # now it runs what it staged
    t.eq(dev.update(srv.url("/update/c1"), version="2.0").result, 1, "current: 304")

On PostgreSQL (UPDRAFT_TEST_PG names the run's cluster, tests/server/pgcluster.py; ctest's
pg.realclient.* tests) each server gets a database of its own, or another server's
(h.server(name, same_db_as=other)): several servers on one database, as behind a load
balancer.

Python 3 standard library only. A case is a function `fn(h, t)` registered with @case(group)
in test_realclient.py; see docs/testing.md."""
import concurrent.futures
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import pgcluster  # noqa: E402  (the throwaway PostgreSQL cluster of a pg.* run)

TOKEN = "realclient-admin-token-0123456789"
SKIP = 77  # ctest SKIP_RETURN_CODE of every realclient.* test

# Flash mode byte (image byte 2) and the names UPD_FLASH_MODE takes.
FLASH_MODES = {"qio": 0, "qout": 1, "dio": 2, "dout": 3}


def md5(data):
    return hashlib.md5(data).hexdigest()


def roundup4k(n):
    return (n + 4095) // 4096 * 4096


def as_flashed(image, flash_mode):
    """The bytes the device's Updater writes for `image` when the chip runs `flash_mode`
    (None: the mock does not rewrite): byte 2 of a plain image becomes the chip's mode;
    a gzip image (1F ..) is written as it is (Updater.cpp, _writeBuffer)."""
    if flash_mode is None or not image or image[0] == 0x1F:
        return bytes(image)
    out = bytearray(image)
    out[2] = FLASH_MODES[flash_mode]
    return bytes(out)


class Checks:
    """The checks of one case: failures are collected, not raised, so a case reports every
    difference at once."""

    def __init__(self, name):
        self.name = name
        self.fails = []
        self.log = []

    def check(self, cond, what):
        if not cond:
            self.fails.append(what)
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, "%s: got %r, want %r" % (what, got, want))

    def note(self, text):
        self.log.append(text)

    def result(self, r, result, err, what):
        """RESULT and ERR of a client run; on a difference the client's output is kept."""
        ok = self.eq((r.result, r.err), (result, err), "%s: RESULT/ERR (%s)" % (what, r.errstr))
        if not ok:
            self.note("client output of '%s':\n%s" % (what, r.output[-3000:]))
        return ok


# ---- the server ---------------------------------------------------------------------------

class Release:
    """A published release: the API's JSON (`.json`), its bytes (`.data`) and id."""

    def __init__(self, js, data):
        self.json = js
        self.data = data
        self.id = js["id"]
        self.version = js["version"]
        self.md5 = js["md5"]


class Server:
    """`updraft serve` on 127.0.0.1 (a free port), with a temporary data dir. Its log goes to
    a file (`.log_text()`), so a chatty server never blocks on a full pipe. On a pg.* run
    it uses PostgreSQL: the database `db` (another server's .db: the same fleet), or one
    of its own."""

    def __init__(self, h, args=(), tls=False, db=None):
        self.h = h
        self.tmp = tempfile.mkdtemp(prefix="updraft-rc-srv-")
        self.scheme = "https" if tls else "http"
        data = os.path.join(self.tmp, "data")
        self.db = (db or pgcluster.database_url(data)) if h.pg else None
        cmd = [h.updraft, "serve", "--listen", "127.0.0.1:0", "--data", data, "--threads",
               "4"] + (["--db", self.db] if self.db else []) + list(args)
        if tls:
            cert, key = h.cert()
            cmd += ["--tls-cert", cert, "--tls-key", key]
        env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
        env.pop("UPDRAFT_DEVICE_AUTH", None)
        self.logpath = os.path.join(self.tmp, "server.log")
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)
        self.port = None
        deadline = time.time() + 15
        while time.time() < deadline and self.proc.poll() is None:
            m = re.search(r"listening on %s://127\.0\.0\.1:(\d+)" % self.scheme, self.log_text())
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.02)
        if not self.port:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("updraft serve did not start: %s\n%s" % (cmd, self.log_text()))
        self.lock = threading.Lock()
        self.by_sha = {}
        self.stopped = False

    def log_text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def url(self, path="/update"):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def stop(self):
        """SIGTERM; the exit status (0 expected)."""
        if self.stopped:
            return 0
        self.stopped = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "hung after SIGTERM"
        self.logf.close()
        if rc == 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return rc

    # -- admin API
    def request(self, method, path, body=None, headers=None, token=TOKEN):
        """One HTTP request; (status, headers dict with lowercase names, body bytes)."""
        if self.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def api(self, method, path, body=None):
        """Admin API call; (status, JSON or None)."""
        st, _, data = self.request(method, "/api/v1" + path, body)
        try:
            js = json.loads(data) if data else None
        except ValueError:
            js = None
        return st, js

    def publish(self, data, version, channel=None, **params):
        """Upload `data` (bytes or a file path) as a release with `version` (and make it the
        current release of `channel`). The same bytes are uploaded once per server: a later
        call only sets the channel (the server refuses a second upload of the same file),
        so cases running in parallel can share corpus files. Returns a Release."""
        if isinstance(data, str):
            with open(data, "rb") as f:
                data = f.read()
        sha = hashlib.sha256(data).hexdigest()
        with self.lock:
            rel = self.by_sha.get(sha)
            if rel is None:
                q = dict(params, version=version)
                st, js = self.api("POST", "/releases?" + urllib.parse.urlencode(q), data)
                if st != 201:
                    raise RuntimeError("upload of %s as %s: %d %r" % (sha[:12], version, st, js))
                rel = self.by_sha[sha] = Release(js, data)
        if channel:
            self.set_channel(channel, rel.id)
        return rel

    def set_channel(self, channel, release_id):
        st, js = self.api("PUT", "/channels/" + channel, {"release": release_id})
        if st != 200:
            raise RuntimeError("channel %s = release %s: %d %r" % (channel, release_id, st, js))

    def device(self, mac):
        """The registry's row of a device with its history (newest first), or None."""
        st, js = self.api("GET", "/devices/" + mac)
        return js if st == 200 else None

    def events(self, mac, kind=None):
        q = {"mac": mac}
        if kind:
            q["kind"] = kind
        st, js = self.api("GET", "/events?" + urllib.parse.urlencode(q))
        if st != 200:
            raise RuntimeError("GET /events: %d %r" % (st, js))
        return js["events"]


# ---- the device ---------------------------------------------------------------------------

class Result:
    """What one client run printed. result: HTTPUpdateResult (0 FAILED, 1 NO_UPDATES, 2 OK);
    err/errstr: getLastError()/getLastErrorString(); staged: md5 of the bytes written (RESULT
    2 only); flash: the FLASH line as a dict of ints (start, len, writes, erases, fs_start,
    fs_end as flash offsets); dump: the staged bytes (RESULT 2); mfln: 'accepted'/'refused'
    (UPD_TLS_MFLN); available: the x-version of a version query (check_version); rc: exit
    status of the wrapper; output: everything it printed."""

    def __init__(self, output, rc, dump):
        self.output = output
        self.rc = rc
        self.dump = dump
        self.result = self.err = None
        self.errstr = ""
        self.staged = None
        self.flash = None
        self.mfln = None
        self.available = None
        for line in output.splitlines():
            m = re.match(r"RESULT (-?\d+) ERR (-?\d+) ?(.*)$", line)
            if m:
                self.result, self.err, self.errstr = int(m.group(1)), int(m.group(2)), m.group(3)
            m = re.match(r"STAGED ([0-9a-f]{32})$", line)
            if m:
                self.staged = m.group(1)
            if line.startswith("FLASH "):
                self.flash = {}
                for k, v in re.findall(r"(\w+)=(0x[0-9a-fA-F]+|\d+)", line):
                    n = int(v, 0)
                    if k in ("fs_start", "fs_end") and n >= 0x40200000:
                        n -= 0x40200000  # FS_start/FS_end are addresses in the flash mapping
                    self.flash[k] = n
            m = re.match(r"MFLN \d+ (accepted|refused)$", line)
            if m:
                self.mfln = m.group(1)
            if line.startswith("AVAILABLE "):
                self.available = line[len("AVAILABLE "):]

    def __repr__(self):
        return "Result(%r, %r, %r, staged=%r)" % (self.result, self.err, self.errstr, self.staged)


class Device:
    """One simulated ESP8266 running the real client. Its identity goes into the UPD_*
    variables of run-esp8266-update.sh (../shared/realclient/README.md):

    mac          STA MAC (also the chip id); the server's registry key
    layout       a flash layout of the core (tools/sdk/ld/eagle.flash.<layout>.ld, e.g. 1m64,
                 2m512, 4m1m, 4m2m): chip size, FS start and end; free space follows from it
                 and the running sketch's size, as ESP.getFreeSketchSpace() computes it
    running      bytes of the image it runs, as on its flash (sketch-size and sketch-md5 are
                 taken from them); None: an image of sketch_size bytes the server does not
                 know (md5 of 32 zeros, the upstream mock's default)
    flash_mode   qio/qout/dio/dout: the chip's flash mode (the Updater rewrites byte 2 of a
                 plain image to it); None: never rewritten
    auth         (user, password) for ESPhttpUpdate.setAuthorization()
    free_space   instead of the layout's: the FS then starts that many bytes (a multiple of
                 4096) after the sketch
    env          more UPD_* variables for every run"""

    def __init__(self, h, mac, layout="4m2m", running=None, sketch_size=400000,
                 flash_mode=None, auth=None, free_space=None, env=None):
        self.h = h
        self.mac = mac
        self.layout = layout
        self.chip_size, self.fs_start, self.fs_end = h.layout(layout)
        self.running = running
        self.sketch_size = len(running) if running is not None else sketch_size
        self.sketch_md5 = md5(running) if running is not None else None
        if free_space is not None:
            # a layout of its own: the FS starts free_space bytes after the sketch (a real
            # device's free space is a multiple of 4096: both ends are sector-aligned)
            if free_space % 4096:
                raise ValueError("free_space %d is not a multiple of 4096" % free_space)
            self.fs_start = roundup4k(self.sketch_size) + free_space
            self.fs_end = max(self.fs_end, self.fs_start)
        self.flash_mode = flash_mode
        self.auth = auth
        self.env = dict(env or {})

    @property
    def free_space(self):
        """ESP.getFreeSketchSpace(): FS start - roundup(sketch size, 4096) (Esp.cpp)."""
        return self.fs_start - roundup4k(self.sketch_size)

    def run_env(self, mode, extra):
        e = {"UPD_MAC": self.mac, "UPD_CHIP_SIZE": str(self.chip_size),
             "UPD_SKETCH_SIZE": str(self.sketch_size), "UPD_FREE_SPACE": str(self.free_space),
             "UPD_FS_SIZE": str(self.fs_end - self.fs_start), "UPD_MODE": mode}
        if self.sketch_md5:
            e["UPD_SKETCH_MD5"] = self.sketch_md5
        if self.flash_mode:
            e["UPD_FLASH_MODE"] = self.flash_mode
        if self.auth:
            e["UPD_AUTH_USER"], e["UPD_AUTH_PASS"] = self.auth
        e.update(self.env)
        e.update(extra)
        return e

    def update(self, url, version="", mode="sketch", timeout=60, **env):
        """ESPhttpUpdate.update() (mode 'sketch') or updateFS() (mode 'spiffs') once against
        `url`, sending `version` as x-ESP8266-version (empty: not sent). Keyword arguments
        are more UPD_* variables for this run. Returns a Result (with the staged bytes)."""
        with tempfile.TemporaryDirectory(prefix="updraft-rc-dev-") as tmp:
            dump = os.path.join(tmp, "staged.bin")
            e = dict(os.environ)
            for k in list(e):
                if k.startswith("UPD_") or k == "REALCLIENT_BIN":
                    del e[k]
            e.update(self.run_env(mode, {k: str(v) for k, v in env.items()}))
            e["UPD_DUMP"] = dump
            e["UPD_TIMEOUT"] = str(timeout)
            p = subprocess.run([self.h.wrapper, url, version], env=e, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout + 30)
            data = None
            if os.path.exists(dump):
                with open(dump, "rb") as f:
                    data = f.read()
            return Result(p.stdout.decode(errors="replace"), p.returncode, data)

    def check_version(self, url, version=""):
        """ESPhttpUpdate.getAvailableVersion() (x-ESP8266-mode: version) once, through our
        sketch versioncheck/ on the same emulated core; Result.available is the answer."""
        return self.update(url, version, REALCLIENT_BIN=os.path.join(
            self.h.client_dir, "bin", "versioncheck"))

    def install(self, r, length=None):
        """After a RESULT 2 in sketch mode: the device reboots into what it staged (eboot
        copies it to 0x0, inflating a gzip image), so it reports that image's size and MD5
        from now on (ESP.getSketchSize(), ESP.getSketchMD5()). length: only that many bytes
        are copied (a signed image: the payload without signature and length word)."""
        if r.result != 2 or r.dump is None:
            raise RuntimeError("nothing was staged to install: %r" % r)
        img = r.dump if length is None else r.dump[:length]
        if img[:2] == b"\x1f\x8b":
            img = gzip.decompress(img)
        self.running = img
        self.sketch_size = len(img)
        self.sketch_md5 = md5(img)


# ---- the harness: paths, shared fixtures, the case runner ----------------------------------

class Harness:
    """Paths of one run (the updraft binary, the client build, the corpus) and what cases
    share: servers by name, the test certificate, the flash layouts."""

    def __init__(self, updraft, client_dir, realclient_dir, firmware_dir):
        self.updraft = updraft
        self.client_dir = client_dir
        self.realclient_dir = realclient_dir
        self.firmware_dir = firmware_dir
        self.wrapper = os.path.join(client_dir, "run-esp8266-update.sh")
        self._tmp = None
        self.lock = threading.RLock()
        self.servers = {}
        self._cert = None
        self._layouts = None
        self._manifest = None
        self._macs = 0
        # a pg.* run (UPDRAFT_TEST_PG): servers on PostgreSQL; exits 77 (SKIPPED, saying
        # why) when that run has no cluster (no PostgreSQL binaries)
        self.pg = pgcluster.on_pg()

    @property
    def tmp(self):
        """A temporary folder for this run (certificates, keys, credential files), made at
        its first use and removed by close()."""
        with self.lock:
            if self._tmp is None:
                self._tmp = tempfile.mkdtemp(prefix="updraft-rc-")
            return self._tmp

    def mac(self):
        """A MAC no other device of this run has (a registry key of its own)."""
        with self.lock:
            self._macs += 1
            n = self._macs
            return "5C:CF:7E:00:%02X:%02X" % (n >> 8, n & 0xFF)  # cases' fixed MACs: 5C:CF:7F

    def require_client(self):
        """Exit 77 (skipped) with a message when the harness is absent; fail when it is
        there but the client was not built."""
        if not os.path.isfile(os.path.join(self.realclient_dir, "build.sh")):
            print("SKIPPED: the real ESP8266 client harness is not at '%s' (it lives in "
                  "../shared/realclient beside the repository; configure with "
                  "-DUPD_REALCLIENT_DIR=... to use another copy)" % self.realclient_dir)
            sys.exit(SKIP)
        if not os.access(os.path.join(self.client_dir, "bin", "realclient"), os.X_OK):
            print("FAIL: the real client is not built in %s: run 'ctest -R realclient.build' "
                  "or 'cmake --build BUILD --target realclient' (log: %s/build.log)"
                  % (self.client_dir, self.client_dir))
            sys.exit(1)

    def server(self, name="plain", args=(), tls=False, same_db_as=None):
        """The server called `name`, started at its first use with `args` (shared by every
        case that asks for the same name: give a case its own name when it needs a server
        alone, e.g. for its admin settings). same_db_as: the name of a server whose
        database it shares (PostgreSQL only: two servers of one fleet)."""
        with self.lock:
            s = self.servers.get(name)
            if s is None:
                db = None
                if same_db_as is not None:
                    if not self.pg:
                        raise RuntimeError("server %s: only PostgreSQL shares a database "
                                           "between servers (run it as pg.realclient.*)" % name)
                    db = self.server(same_db_as).db
                s = self.servers[name] = Server(self, args, tls, db)
            return s

    def device(self, mac, **kw):
        return Device(self, mac, **kw)

    def cert(self):
        """A throwaway self-signed certificate for 127.0.0.1 (openssl): (cert, key) paths."""
        with self.lock:
            if self._cert is None:
                cert = os.path.join(self.tmp, "cert.pem")
                key = os.path.join(self.tmp, "key.pem")
                subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                "-keyout", key, "-out", cert, "-days", "2", "-subj",
                                "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                               check=True, capture_output=True)
                self._cert = (cert, key)
            return self._cert

    def layout(self, name):
        """(chip size, FS start, FS end) of a flash layout, as flash offsets, read from the
        core's own linker scripts (tools/sdk/ld/eagle.flash.<name>.ld in the client build)."""
        with self.lock:
            if self._layouts is None:
                self._layouts = {}
                lddir = os.path.join(self.client_dir, "src", "Arduino", "tools", "sdk", "ld")
                for fn in os.listdir(lddir):
                    m = re.match(r"eagle\.flash\.(\d+)([km])(\d*[km]?)\.ld$", fn)
                    if not m:
                        continue
                    chip = int(m.group(1)) << (10 if m.group(2) == "k" else 20)
                    with open(os.path.join(lddir, fn)) as f:
                        text = f.read()
                    fs = [int(re.search(r"_FS_%s = (0x[0-9A-Fa-f]+)" % k, text).group(1), 16)
                          - 0x40200000 for k in ("start", "end")]
                    self._layouts[fn[len("eagle.flash."):-3]] = (chip, fs[0], fs[1])
        return self._layouts[name]

    def signing_key(self, key="fleet"):
        """An RSA-2048 key pair called `key`, made once per run by openssl: (private PEM
        path, public PEM path for UPD_PUBKEY)."""
        with self.lock:
            priv = os.path.join(self.tmp, "sign-%s-private.pem" % key)
            pub = os.path.join(self.tmp, "sign-%s-public.pem" % key)
            if not os.path.exists(pub):
                subprocess.run(["openssl", "genrsa", "-out", priv, "2048"], check=True,
                               capture_output=True)
                subprocess.run(["openssl", "rsa", "-in", priv, "-pubout", "-out", pub],
                               check=True, capture_output=True)
            return priv, pub

    def signed(self, payload, key="fleet"):
        """`payload` signed as the core's signing.py does (RSA PKCS#1 v1.5 over its SHA-256;
        file = payload || signature || u32 LE signature length) with signing_key(key):
        (signed bytes, public key PEM path for UPD_PUBKEY)."""
        priv, pub = self.signing_key(key)
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", priv], input=payload,
                             check=True, capture_output=True).stdout
        return payload + sig + len(sig).to_bytes(4, "little"), pub

    def manifest(self):
        """Rows of the corpus's MANIFEST.tsv (dicts by column name)."""
        if self._manifest is None:
            with open(os.path.join(self.firmware_dir, "MANIFEST.tsv")) as f:
                lines = f.read().splitlines()
            cols = lines[0].split("\t")
            self._manifest = [dict(zip(cols, ln.split("\t"))) for ln in lines[1:] if ln]
        return self._manifest

    def firmware(self, prefix):
        """Bytes of the one corpus file whose name starts with `prefix`."""
        names = [r["file"] for r in self.manifest() if r["file"].startswith(prefix)]
        if len(names) != 1:
            raise RuntimeError("corpus files starting %r: %r" % (prefix, names))
        with open(os.path.join(self.firmware_dir, names[0]), "rb") as f:
            return f.read()

    def close(self):
        """Stop every server; the names of those that did not exit 0."""
        bad = []
        for name, s in self.servers.items():
            rc = s.stop()
            if rc != 0:
                bad.append("server %s exited %r; log:\n%s" % (name, rc, s.log_text()[-3000:]))
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return bad


def run_cases(h, cases, jobs=4):
    """Run (name, fn, xfail) cases in `jobs` threads. A case fails when a check fails or it
    raises. xfail (a reason naming the issue part that fixes it) inverts that: the case must
    fail today; a case marked xfail that passes is a failure too ("XPASS": the fix has landed,
    remove the mark). Prints one line per case; returns the number of problems."""
    def one(item):
        name, fn, xfail = item
        t = Checks(name)
        t0 = time.time()
        try:
            fn(h, t)
        except Exception:
            t.fails.append("raised:\n" + traceback.format_exc())
        return name, xfail, t, time.time() - t0

    problems = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for name, xfail, t, dt in ex.map(one, cases):
            if xfail and t.fails:
                print("XFAIL %s (%.1fs): %s\n      expected today: %s" %
                      (name, dt, xfail, t.fails[0].splitlines()[0]), flush=True)
                continue
            if xfail:
                problems += 1
                print("XPASS %s (%.1fs): passes now; remove its xfail mark (%s)" %
                      (name, dt, xfail), flush=True)
                continue
            if t.fails:
                problems += 1
                print("FAIL %s (%.1fs)" % (name, dt), flush=True)
                for f in t.fails:
                    print("    " + f.replace("\n", "\n    "))
                for n in t.log:
                    print("    " + n.replace("\n", "\n    "))
            else:
                print("ok   %s (%.1fs)" % (name, dt), flush=True)
    for b in h.close():
        problems += 1
        print("FAIL " + b)
    return problems
