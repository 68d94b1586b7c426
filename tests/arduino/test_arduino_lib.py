#!/usr/bin/env python3
"""ctest arduino.lib: tools/arduino-lib.py makes the updraft Arduino library zip from the
repository's sources, as documented (docs/arduino.md, "The library").

    test_arduino_lib.py WORKDIR

Checks: the zip is named and versioned after the project's version (CMakeLists.txt); every
file of the engine (src/client, src/core), its API (include/updraft) and the port is in it
byte for byte, at its place, and nothing else but the generated metadata; each example
folder holds its .ino; two runs give the same bytes; the engine compiles as C from the
library's layout alone, with the library's feature header in effect (signatures on); a
bad --out is refused with a clear message."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOL = os.path.join(ROOT, "tools", "arduino-lib.py")
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
    return cond


def run(out):
    p = subprocess.run([sys.executable, TOOL, "--out", out, "--tree"], capture_output=True,
                       text=True)
    check(p.returncode == 0, "arduino-lib.py --out %s: exit %d\n%s" % (out, p.returncode, p.stderr))
    return p.stdout.strip()


def main():
    work = sys.argv[1]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        version = re.search(r"project\(updraft VERSION (\S+)", f.read()).group(1)

    z1 = run(os.path.join(work, "a"))
    z2 = run(os.path.join(work, "b"))
    check(os.path.basename(z1) == "updraft-%s.zip" % version,
          "zip named after the project's version %s: %s" % (version, z1))
    if not os.path.isfile(z1):
        print("FAIL: no zip\n" + "\n".join(fails))
        return 1
    with open(z1, "rb") as a, open(z2, "rb") as b:
        check(a.read() == b.read(), "two runs give the same zip (reproducible)")

    with zipfile.ZipFile(z1) as z:
        names = z.namelist()
        data = {n: z.read(n) for n in names}
    check(all(n.startswith("updraft/") for n in names), "one top folder, updraft/")
    check(len(set(names)) == len(names), "no duplicate entries")

    want = {}
    for f in os.listdir(os.path.join(ROOT, "include", "updraft")):
        want["updraft/src/updraft/" + f] = os.path.join(ROOT, "include", "updraft", f)
    for sub in ("src/core", "src/client"):
        for f in os.listdir(os.path.join(ROOT, sub)):
            if f.endswith((".c", ".h")):
                want["updraft/src/updraft_engine/" + f] = os.path.join(ROOT, sub, f)
    port = os.path.join(ROOT, "ports", "arduino-esp8266")
    want["updraft/src/Updraft.h"] = os.path.join(port, "Updraft.h")
    want["updraft/src/Updraft.cpp"] = os.path.join(port, "Updraft.cpp")
    want["updraft/src/updraft_engine/upd_client_config.h"] = os.path.join(port, "upd_client_config.h")
    for ex in os.listdir(os.path.join(port, "examples")):
        d = os.path.join(port, "examples", ex)
        check(os.path.isfile(os.path.join(d, ex + ".ino")), "example %s has %s.ino" % (ex, ex))
        for f in os.listdir(d):
            want["updraft/examples/%s/%s" % (ex, f)] = os.path.join(d, f)
    pio = os.path.join(ROOT, "contrib", "platformio")
    if os.path.isdir(pio):
        for f in os.listdir(pio):
            if f.endswith((".py", ".md")):
                want["updraft/extras/platformio/" + f] = os.path.join(pio, f)
    for n, src in sorted(want.items()):
        with open(src, "rb") as f:
            check(data.get(n) == f.read(), "%s is %s byte for byte" % (n, os.path.relpath(src, ROOT)))
    generated = {"updraft/library.properties", "updraft/library.json", "updraft/README.md"}
    extra = set(names) - set(want) - generated
    check(not extra, "nothing else in the zip: %s" % sorted(extra))
    check(generated <= set(names), "metadata present: %s" % sorted(generated - set(names)))
    for g in generated:
        check(b"@VERSION@" not in data.get(g, b""), "%s: @VERSION@ replaced" % g)
    props = dict(line.split("=", 1) for line in data["updraft/library.properties"].decode().splitlines()
                 if "=" in line)
    check(props.get("name") == "updraft" and props.get("version") == version,
          "library.properties: name updraft, version %s: %r" % (version, props))
    check(props.get("architectures") == "esp8266", "library.properties: architectures=esp8266")
    import json
    js = json.loads(data["updraft/library.json"])
    check(js.get("name") == "updraft" and js.get("version") == version,
          "library.json: name and version: %r" % js)
    check(any(n.startswith("updraft/examples/") for n in names), "examples present")

    # The unpacked tree is the zip.
    tree = os.path.join(work, "a")
    for n in names:
        with open(os.path.join(tree, n), "rb") as f:
            check(f.read() == data[n], "--tree: %s as in the zip" % n)

    # The engine compiles as C from the library's layout alone (src/ on the include path,
    # as the Arduino IDE and PlatformIO set it), with upd_client_config.h in effect.
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if check(cc is not None, "a C compiler"):
        src = os.path.join(tree, "updraft", "src")
        eng = os.path.join(src, "updraft_engine")
        objdir = tempfile.mkdtemp(dir=work)
        for f in sorted(os.listdir(eng)):
            if f.endswith(".c"):
                p = subprocess.run([cc, "-std=gnu17", "-Wall", "-Werror", "-I", src, "-c",
                                    os.path.join(eng, f), "-o", os.path.join(objdir, f + ".o")],
                                   capture_output=True, text=True)
                check(p.returncode == 0, "%s compiles from the library: %s" % (f, p.stderr))
        p = subprocess.run([cc, "-std=gnu17", "-I", src, "-dM", "-E", os.path.join(eng, "client.c")],
                           capture_output=True, text=True)
        check("#define UPD_CLIENT_WITH_SIGN 1" in p.stdout,
              "the library's engine has signatures on (upd_client_config.h included)")

    # A --out that cannot be made: a clear error, no traceback, nothing half-written.
    blocker = os.path.join(work, "file")
    open(blocker, "w").close()
    p = subprocess.run([sys.executable, TOOL, "--out", os.path.join(blocker, "x")],
                       capture_output=True, text=True)
    check(p.returncode != 0 and "Traceback" not in p.stderr and "--out" in p.stderr,
          "a bad --out: exit %d, %r" % (p.returncode, p.stderr))

    if fails:
        print("FAIL:\n  " + "\n  ".join(fails))
        return 1
    print("ok: %s, %d files" % (os.path.basename(z1), len(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
