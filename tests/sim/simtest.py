"""What the sim black-box tests share: the arguments (UPDRAFT_BINARY MKIMAGE_BINARY), the
check helpers, and the real `updraft serve` on 127.0.0.1 with a temp data dir.
Python 3 standard library only."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

BIN, MKIMAGE = sys.argv[1], sys.argv[2]
TOKEN = "sim-test-token-0123456789"
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


class Server:
    """`updraft serve` on a free port, its state in tmp/name, with extra options."""

    def __init__(self, tmp, name="data", *extra):
        env = dict(os.environ, UPDRAFT_ADMIN_TOKEN=TOKEN)
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data",
                                      os.path.join(tmp, name), "--threads", "2", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.port = None
        deadline = time.time() + 15
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            m = re.match(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            self.proc.kill()
            sys.exit("server did not start: %s" % self.proc.stderr.read().decode())
        self.url = "http://127.0.0.1:%d" % self.port

    def api(self, method, path, body=None):
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()
