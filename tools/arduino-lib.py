#!/usr/bin/env python3
"""arduino-lib.py: assemble the `updraft` Arduino library (Arduino IDE and PlatformIO) from
the repository's own sources into a versioned zip. Nothing of it is kept in the repository:
the library is a build product, made from

    include/updraft/*.h               -> updraft/src/updraft/          (the engine's API)
    src/client/*.[ch], src/core/*.[ch] -> updraft/src/updraft_engine/  (the engine, C11)
    ports/arduino-esp8266/            -> updraft/src/ (Updraft.h, Updraft.cpp,
                                         upd_client_config.h into updraft_engine/),
                                         updraft/examples/, library.properties,
                                         library.json, README.md (templates: @VERSION@)
    contrib/platformio/*.py           -> updraft/extras/platformio/

The version is the project's (`project(updraft VERSION x.y.z)` in CMakeLists.txt), the one
source of truth. The zip is reproducible: sorted entries, fixed timestamps and modes.

    usage: tools/arduino-lib.py [--out DIR] [--tree]
      --out DIR   where to write updraft-<version>.zip (default: the current folder)
      --tree      also leave the unpacked library in DIR/updraft/ (for builds and tests)
prints the zip's path. docs/arduino.md describes the library."""
import argparse
import os
import re
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = os.path.join(ROOT, "ports", "arduino-esp8266")
STAMP = (2020, 1, 1, 0, 0, 0)  # zip entries' time: fixed, so that equal inputs give equal zips


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*updraft\s+VERSION\s+([0-9]+\.[0-9]+\.[0-9]+)", f.read())
    if not m:
        sys.exit("arduino-lib.py: no 'project(updraft VERSION x.y.z)' in CMakeLists.txt")
    return m.group(1)


def files(folder, exts):
    return sorted(f for f in os.listdir(folder)
                  if os.path.isfile(os.path.join(folder, f)) and f.endswith(exts))


def contents(version):
    """(path in the zip, bytes) of every file of the library, sorted by path."""
    out = {}

    def add(dst, src=None, data=None):
        if dst in out:
            sys.exit("arduino-lib.py: two sources for %s" % dst)
        if data is None:
            with open(src, "rb") as f:
                data = f.read()
        out["updraft/" + dst] = data

    def template(name):
        with open(os.path.join(PORT, name), encoding="utf-8") as f:
            return f.read().replace("@VERSION@", version).encode()

    add("library.properties", data=template("library.properties.in"))
    add("library.json", data=template("library.json.in"))
    add("README.md", data=template("README.md.in"))
    for f in ("Updraft.h", "Updraft.cpp"):
        add("src/" + f, os.path.join(PORT, f))
    inc = os.path.join(ROOT, "include", "updraft")
    for f in files(inc, (".h",)):
        add("src/updraft/" + f, os.path.join(inc, f))
    for sub in ("src/core", "src/client"):
        d = os.path.join(ROOT, sub)
        for f in files(d, (".c", ".h")):
            add("src/updraft_engine/" + f, os.path.join(d, f))
    add("src/updraft_engine/upd_client_config.h", os.path.join(PORT, "upd_client_config.h"))
    ex = os.path.join(PORT, "examples")
    for name in sorted(os.listdir(ex)):
        d = os.path.join(ex, name)
        if not os.path.isfile(os.path.join(d, name + ".ino")):
            sys.exit("arduino-lib.py: example %s has no %s.ino" % (d, name))
        for f in files(d, (".ino", ".h", ".cpp", ".c")):
            add("examples/%s/%s" % (name, f), os.path.join(d, f))
    pio = os.path.join(ROOT, "contrib", "platformio")
    if os.path.isdir(pio):
        for f in files(pio, (".py", ".md")):
            add("extras/platformio/" + f, os.path.join(pio, f))
    return sorted(out.items())


def write_tree(out, items):
    """The library unpacked into out/updraft/: files whose bytes did not change are left
    alone (so that a build using the tree rebuilds only what changed), stale ones removed."""
    want = {os.path.normpath(os.path.join(out, n)): d for n, d in items}
    for path, data in want.items():
        old = None
        if os.path.exists(path):
            with open(path, "rb") as f:
                old = f.read()
        if old != data:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.replace(path + ".tmp", path)
    for d, _, fs in os.walk(os.path.join(out, "updraft")):
        for f in fs:
            p = os.path.normpath(os.path.join(d, f))
            if p not in want:
                os.remove(p)


def main():
    ap = argparse.ArgumentParser(description="Assemble the updraft Arduino library zip.")
    ap.add_argument("--out", default=".", help="folder for updraft-<version>.zip")
    ap.add_argument("--tree", action="store_true", help="also unpack it into OUT/updraft/")
    a = ap.parse_args()
    version = project_version()
    items = contents(version)
    try:
        os.makedirs(a.out, exist_ok=True)
    except OSError as e:
        sys.exit("arduino-lib.py: --out %s: cannot make that folder (%s)" % (a.out, e.strerror))
    path = os.path.join(a.out, "updraft-%s.zip" % version)
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            zi = zipfile.ZipInfo(name, STAMP)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    os.replace(tmp, path)  # never a half-written zip under the final name
    if a.tree:
        write_tree(a.out, items)
    print(path)


if __name__ == "__main__":
    main()
