#!/usr/bin/env python3
"""The Debian package (cmake/package.cmake): build it with cpack from this build tree,
check what it holds and declares, then start the packaged binary with the packaged
configuration and unit the way systemd would (as far as a test without root can: the
unit's ExecStart, on 127.0.0.1, a temporary data directory, its own NOTIFY_SOCKET).

usage: test_package.py CPACK BUILD_DIR
Skips (77) without dpkg-deb. Installing it on a clean Debian 12 as root is
tools/package-check.sh (docs/operations.md "Debian package")."""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

CPACK, BUILD = sys.argv[1:3]
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


def main():
    if not shutil.which("dpkg-deb"):
        print("SKIPPED: no dpkg-deb (Debian package dpkg) to read the package with")
        sys.exit(77)
    tmp = tempfile.TemporaryDirectory(prefix="updraft-package-")
    p = subprocess.run([CPACK, "-G", "DEB", "-B", tmp.name, "--config",
                        os.path.join(BUILD, "CPackConfig.cmake")], capture_output=True, text=True,
                       timeout=300)
    eq(p.returncode, 0, "cpack -G DEB: %s" % (p.stdout + p.stderr)[-800:])
    debs = glob.glob(os.path.join(tmp.name, "updraft_*.deb"))
    eq(len(debs), 1, "one package: %r" % os.listdir(tmp.name))
    if not debs:
        return
    deb = debs[0]
    field = lambda f: subprocess.run(["dpkg-deb", "-f", deb, f], capture_output=True,
                                     text=True).stdout.strip()
    eq(field("Package"), "updraft", "Package")
    version = subprocess.run([os.path.join(BUILD, "src", "cli", "updraft"), "--version"],
                             capture_output=True, text=True).stdout.split()[-1]
    eq(field("Version"), version, "Version is the binary's")
    deps = field("Depends")
    for lib in ("adduser", "libmicrohttpd12", "libsqlite3-0", "libgnutls30", "libsystemd0",
                "libcjson1"):
        check(lib in deps, "Depends names %s: %r" % (lib, deps))
    files = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
    names = {ln.split()[-1].lstrip(".") for ln in files.splitlines()}
    for want in ("/usr/bin/updraft", "/usr/share/man/man1/updraft.1",
                 "/usr/lib/systemd/system/updraft.service", "/etc/updraft/updraft.conf",
                 "/usr/share/doc/updraft/operations.md", "/usr/share/doc/updraft/README.md",
                 "/usr/share/doc/updraft/contrib/updraft-dashboard.json"):
        check(want in names, "the package holds %s" % want)
    ctrl = os.path.join(tmp.name, "control")
    subprocess.run(["dpkg-deb", "-e", deb, ctrl], check=True)
    with open(os.path.join(ctrl, "conffiles")) as f:
        eq(f.read().split(), ["/etc/updraft/updraft.conf"], "the configuration is a conffile")
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(ctrl, script)
        check(os.access(path, os.X_OK), "%s is executable" % script)
        eq(subprocess.run(["sh", "-n", path]).returncode, 0, "%s is valid sh" % script)
    with open(os.path.join(ctrl, "postinst")) as f:
        check("adduser --system" in f.read(), "postinst creates the system user")

    # the packaged files, unpacked, run as the unit says
    root = os.path.join(tmp.name, "root")
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    with open(os.path.join(root, "usr/lib/systemd/system/updraft.service")) as f:
        unit = f.read()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).split()
    eq(exec_start[:4], ["/usr/bin/updraft", "serve", "--config", "/etc/updraft/updraft.conf"],
       "ExecStart")
    conf = os.path.join(root, "etc/updraft/updraft.conf")
    with open(conf) as f:
        text = f.read()
    check("\ndata = /var/lib/updraft\n" in text and "\nlisten = 0.0.0.0:8080\n" in text,
          "the packaged configuration: data and listen set")
    sock_path = os.path.join(tmp.name, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(20)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, UPDRAFT_ADMIN_TOKEN="package-test-token")
    # the unit's command with the packaged files; the test may not use /var/lib or :8080
    srv = subprocess.Popen([os.path.join(root, "usr/bin/updraft"), "serve", "--config", conf,
                            "--data", os.path.join(tmp.name, "data"), "--listen",
                            "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env)
    try:
        msg = ""
        try:
            while "READY=1" not in msg:
                msg = sock.recv(4096).decode()
        except socket.timeout:
            pass
        check("READY=1" in msg, "the packaged server tells systemd it is ready: %r" % msg)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", msg)
        check(m, "STATUS names the address: %r" % msg)
        if m:
            s = socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=10)
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            check(data.startswith(b"HTTP/1.1 200") and data.endswith(b"ready\n"),
                  "/readyz of the packaged server: %r" % data[-80:])
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(15)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = "hung"
        eq(rc, 0, "the packaged server stops cleanly: %s" % srv.stderr.read().decode()[-400:])
        srv.stdout.close()
        srv.stderr.close()
        sock.close()


main()
if FAILS:
    print("%d check(s) failed" % len(FAILS))
    sys.exit(1)
print("ok: the Debian package")
