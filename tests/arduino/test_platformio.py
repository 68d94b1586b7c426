#!/usr/bin/env python3
"""ctest arduino.platformio: contrib/platformio/updraft_publish.py publishes a built firmware
through the real `updraft` CLI to the real `updraft serve`, from a fake PlatformIO build
folder (.pio/build/<env>/firmware.bin). PlatformIO itself is not installed here: the
script is loaded as PlatformIO loads an extra_script (a file executed with `Import`
giving the SCons construction environment), with a small stand-in for the four calls of
that environment it uses (GetProjectOption, subst, get, AddCustomTarget, Replace); the
target's action it registers is then run as `pio run -t updraft_publish` would run it.

    test_platformio.py UPDRAFT_BIN FIRMWARE_DIR"""
import io
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "realclient"))
import realclient as rc  # noqa: E402

SCRIPT = os.path.join(ROOT, "contrib", "platformio", "updraft_publish.py")


class FakeEnv:
    """The parts of PlatformIO's SCons environment the script uses."""

    def __init__(self, build_dir, options, defines):
        self.vars = {"BUILD_DIR": build_dir, "PROGNAME": "firmware", "CPPDEFINES": defines}
        self.options = options
        self.targets = {}
        self.replaced = {}

    def GetProjectOption(self, name, default=None):
        return self.options.get(name, default)

    def subst(self, s):
        for k, v in self.vars.items():
            if isinstance(v, str):
                s = s.replace("${%s}" % k, v).replace("$" + k, v)
        return s

    def get(self, key, default=None):
        return self.vars.get(key, default)

    def AddCustomTarget(self, name, dependencies, actions, title=None, description=None,
                        always_build=True):
        self.targets[name] = (dependencies, actions)

    def Replace(self, **kw):
        self.replaced.update(kw)


def load(env):
    """Execute the script as PlatformIO does (post: extra_script)."""
    code = compile(open(SCRIPT).read(), SCRIPT, "exec")
    g = {"__name__": "SCons.Script", "__file__": SCRIPT, "Import": lambda name: None, "env": env}
    exec(code, g)
    return g


def main():
    updraft, fwdir = sys.argv[1:3]
    fw = os.path.join(fwdir, "esp8266-app_wbec_pio-espressif8266-4.0.1_core3.0.2_4M.bin")
    if not os.path.isfile(fw):
        print("SKIPPED: the firmware corpus is not at '%s' (../shared/testdata/firmware)" % fwdir)
        return rc.SKIP
    fails = []
    h = rc.Harness(updraft, "", "", fwdir)
    tmp = tempfile.mkdtemp(prefix="updraft-pio-")
    try:
        srv = h.server("pio")
        os.environ["UPDRAFT_TOKEN"] = rc.TOKEN
        os.environ.pop("UPDRAFT_URL", None)
        build = os.path.join(tmp, ".pio", "build", "d1_mini")
        os.makedirs(build)
        shutil.copy(fw, os.path.join(build, "firmware.bin"))

        # 1. pio run -t updraft_publish, version from -DFIRMWARE_VERSION=\"2.1.0\"
        env = FakeEnv(build, {"custom_updraft_channel": "stable", "custom_updraft_server":
                              srv.url(""), "custom_updraft_cli": updraft,
                              "upload_protocol": "custom"},
                      ["ARDUINO", ("FIRMWARE_VERSION", '\\"2.1.0\\"'), ("F_CPU", "80000000L")])
        load(env)
        if "updraft_publish" not in env.targets:
            fails.append("no updraft_publish target registered: %r" % env.targets)
        else:
            deps, action = env.targets["updraft_publish"]
            if deps != "$BUILD_DIR/${PROGNAME}.bin":
                fails.append("the target depends on the firmware: %r" % deps)
            st = action(target=None, source=None, env=env)
            if st != 0:
                fails.append("updraft_publish action: exit %r" % st)
        if env.replaced.get("UPLOADCMD") is None:
            fails.append("upload_protocol = custom: `pio run -t upload` publishes (UPLOADCMD)")
        code, js = srv.api("GET", "/releases")
        rels = (js or {}).get("releases", [])
        got = [(r["version"], r.get("serving")) for r in rels]
        if not any(r["version"] == "2.1.0" for r in rels):
            fails.append("release 2.1.0 on the server: %r" % got)
        if not any(r["version"] == "2.1.0" and "stable" in str(r.get("serving")) for r in rels):
            fails.append("channel stable serves 2.1.0: %r" % got)

        # 2. no version anywhere: a clear message, nothing published, non-zero
        env2 = FakeEnv(build, {"custom_updraft_server": srv.url(""), "custom_updraft_cli": updraft},
                       ["ARDUINO"])
        load(env2)
        err = io.StringIO()
        old, sys.stderr = sys.stderr, err
        try:
            st = env2.targets["updraft_publish"][1](target=None, source=None, env=env2)
        finally:
            sys.stderr = old
        if st == 0 or "FIRMWARE_VERSION" not in err.getvalue():
            fails.append("no version: exit %r, %r" % (st, err.getvalue()))
        if env2.replaced:
            fails.append("without upload_protocol = custom the upload is left alone")

        # 3. the same from the command line: custom_updraft_version wins; a missing file
        import subprocess
        p = subprocess.run([sys.executable, SCRIPT, os.path.join(build, "missing.bin"),
                            "--version", "2.2.0", "--updraft", updraft, "--server", srv.url("")],
                           capture_output=True, text=True)
        if p.returncode != 2 or "build the firmware first" not in p.stderr:
            fails.append("a missing firmware: exit %d, %r" % (p.returncode, p.stderr))
        p = subprocess.run([sys.executable, SCRIPT, os.path.join(build, "firmware.bin"),
                            "--version", "2.1.0", "--updraft", updraft, "--server", srv.url("")],
                           capture_output=True, text=True)
        if p.returncode == 0:
            fails.append("publishing the same file again is refused by the server (CLI exit "
                         "status passed through): %r" % p.stdout)
    finally:
        bad = h.close()
        shutil.rmtree(tmp, ignore_errors=True)
    fails += bad
    if fails:
        print("FAIL:\n  " + "\n  ".join(fails))
        return 1
    print("ok: published through updraft_publish.py (target and command line)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
