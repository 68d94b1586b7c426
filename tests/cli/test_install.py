#!/usr/bin/env python3
"""`cmake --install` into a temporary prefix, then the installed files: the binary runs
(--version as the built one), the man page (generated from the --help texts) opens with
`man` and names every command and every option of `updraft serve`, the docs are there.

usage: test_install.py CMAKE BUILD_DIR SOURCE_DIR"""
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile

CMAKE, BUILD, SRC = sys.argv[1:4]
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def main():
    tmp = tempfile.TemporaryDirectory(prefix="updraft-install-")
    prefix = os.path.join(tmp.name, "usr", "local")
    p = subprocess.run([CMAKE, "--install", BUILD, "--prefix", prefix], capture_output=True,
                       text=True, timeout=120)
    check(p.returncode == 0, "cmake --install exits 0: %s" % p.stderr[-500:])
    exe = os.path.join(prefix, "bin", "updraft")
    check(os.access(exe, os.X_OK), "bin/updraft is installed, executable")
    built = os.path.join(BUILD, "src", "cli", "updraft")
    want = subprocess.run([built, "--version"], capture_output=True, text=True).stdout
    got = subprocess.run([exe, "--version"], capture_output=True, text=True)
    check(got.returncode == 0 and got.stdout == want and want.startswith("updraft "),
          "the installed updraft --version: %r (built: %r)" % (got.stdout, want))
    page = os.path.join(prefix, "share", "man", "man1", "updraft.1")
    check(os.path.isfile(page), "share/man/man1/updraft.1 is installed")
    env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="100", LC_ALL="C.UTF-8",
               MANPATH=os.path.join(prefix, "share", "man"))
    if shutil.which("man"):
        r = subprocess.run(["man", "-l", page], capture_output=True, text=True, env=env)
        check(r.returncode == 0 and "UPDRAFT(1)" in r.stdout, "man -l opens it: %r" %
              r.stderr[-300:])
        text = r.stdout
        r = subprocess.run(["man", "updraft"], capture_output=True, text=True, env=env)
        check(r.returncode == 0 and "UPDRAFT(1)" in r.stdout,
              "man finds it by name under the prefix's share/man: %r" % r.stderr[-300:])
    elif shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", page], capture_output=True,
                           text=True)
        check(r.returncode == 0 and not r.stderr, "groff reads it without a warning: %r" %
              r.stderr[-300:])
        text = r.stdout
    else:
        print("SKIPPED: neither man nor groff is installed (scripts/install-deps.sh installs "
              "man-db): the installed files were checked, the page was not read")
        text = None
    if text is not None:
        text = re.sub(".\b", "", text).replace("\u2010", "-").replace("\u2011", "-")
        flat = " ".join(text.split())
        top = subprocess.run([built, "--help"], capture_output=True, text=True).stdout
        cmds = re.findall(r"^  (\S+)\s", top.split("commands:")[1], re.M)
        check(len(cmds) >= 10, "commands listed by updraft --help: %r" % cmds)
        for c in cmds:
            check("updraft %s" % c in flat, "the man page has a section for 'updraft %s'" % c)
        serve = subprocess.run([built, "serve", "--help"], capture_output=True, text=True).stdout
        for opt in sorted(set(re.findall(r"--[a-z][a-z-]+", serve))):
            check(opt in flat, "the man page names updraft serve %s" % opt)
    docs = os.path.join(prefix, "share", "doc", "updraft")
    for name in ["README.md"] + sorted(f for f in os.listdir(os.path.join(SRC, "docs"))
                                       if f.endswith(".md")):
        src = os.path.join(SRC, name) if name == "README.md" else os.path.join(SRC, "docs", name)
        dst = os.path.join(docs, name)
        check(os.path.isfile(dst) and filecmp.cmp(src, dst, shallow=False),
              "share/doc/updraft/%s is installed" % name)
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        sys.exit(1)
    print("ok: install")


main()
