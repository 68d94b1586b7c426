# updraft_publish.py: publish the firmware PlatformIO just built as a release on an updraft
# server, with the `updraft` command line (updraft release add). docs/arduino.md,
# "PlatformIO", explains it; in short, platformio.ini:
#
#   [env:d1_mini]
#   platform = espressif8266
#   board = d1_mini
#   framework = arduino
#   lib_deps = updraft                      ; or a path to the unpacked library zip
#   build_flags = -DFIRMWARE_VERSION=\"1.0.1\"
#   extra_scripts = post:updraft_publish.py
#   upload_protocol = custom                ; `pio run -t upload` publishes (no serial upload)
#   custom_updraft_channel = stable         ; optional: make it the channel's release
#   custom_updraft_server = http://updraft.local:8080   ; optional: else UPDRAFT_URL / `updraft login`
#
# Targets: `pio run -t updraft_publish` always publishes; with `upload_protocol = custom`,
# `pio run -t upload` does too. The version is custom_updraft_version, else the
# FIRMWARE_VERSION build flag (the one the sketch reports, so they cannot differ). The
# admin token comes from where `updraft` takes it (UPDRAFT_TOKEN, `updraft login`, the
# server's data folder on the same machine).
#
# Outside PlatformIO the same code runs as a command, which is how it is tested (the CLI
# path is what matters; tests/arduino/test_platformio.py, with a fake build folder):
#
#   python3 updraft_publish.py FIRMWARE.bin --version V [--channel C] [--server URL]
#                                           [--updraft PATH] [--notes TEXT] [--dry-run]
import os
import re
import shlex
import subprocess
import sys


class PublishError(Exception):
    pass


def version_from_defines(defines):
    """FIRMWARE_VERSION from SCons CPPDEFINES (a list of names, (name, value) pairs or
    "NAME=value" strings), without its quotes; None if absent."""
    for d in defines or []:
        name, value = None, None
        if isinstance(d, (list, tuple)) and d:
            name, value = d[0], (d[1] if len(d) > 1 else None)
        elif isinstance(d, str):
            name, _, value = d.partition("=")
        if name == "FIRMWARE_VERSION" and value is not None:
            v = str(value).strip()
            v = re.sub(r'^\\?"(.*?)\\?"$', r"\1", v)
            return v
    return None


def command(firmware, version, channel=None, updraft="updraft", notes=None):
    """The argv of `updraft release add` for this firmware."""
    if not version:
        raise PublishError("no version to publish: set custom_updraft_version in platformio.ini "
                           "or build with -DFIRMWARE_VERSION=\\\"x.y.z\\\" (the version the "
                           "sketch reports as FIRMWARE_VERSION)")
    if not os.path.isfile(firmware):
        raise PublishError("%s does not exist: build the firmware first (pio run)" % firmware)
    argv = [updraft, "release", "add", firmware, "--version", version]
    if channel:
        argv += ["--channel", channel]
    if notes:
        argv += ["--notes", notes]
    return argv


def publish(firmware, version, channel=None, server=None, updraft="updraft", notes=None,
            dry_run=False, out=sys.stdout):
    """Run `updraft release add`; returns its exit status (0: published). server: the
    updraft server's URL (UPDRAFT_URL for the CLI); None: the CLI's own choice."""
    argv = command(firmware, version, channel, updraft, notes)
    env = dict(os.environ)
    if server:
        env["UPDRAFT_URL"] = server
    print("updraft: publishing %s as %s%s: %s" % (
        os.path.basename(firmware), version, " on channel %s" % channel if channel else "",
        " ".join(shlex.quote(a) for a in argv)), file=out, flush=True)
    if dry_run:
        return 0
    try:
        return subprocess.call(argv, env=env)
    except FileNotFoundError:
        raise PublishError("the updraft command line '%s' was not found: install updraft or set "
                           "custom_updraft_cli (--updraft) to its path" % updraft)


def _scons(env):
    """Inside PlatformIO: the updraft_publish target, and the upload with
    upload_protocol = custom."""

    def opt(name, default=None):
        try:
            return env.GetProjectOption("custom_updraft_" + name, default)
        except Exception:
            return default

    def action(target=None, source=None, env=env):
        firmware = env.subst("$BUILD_DIR/${PROGNAME}.bin")
        version = opt("version") or version_from_defines(env.get("CPPDEFINES"))
        try:
            rc = publish(firmware, version, opt("channel"), opt("server"), opt("cli", "updraft"),
                         opt("notes"))
        except PublishError as e:
            sys.stderr.write("updraft_publish: %s\n" % e)
            return 1
        return rc

    env.AddCustomTarget("updraft_publish", "$BUILD_DIR/${PROGNAME}.bin", action,
                        title="Publish to updraft",
                        description="Upload the firmware as a release to the updraft server")
    if env.GetProjectOption("upload_protocol", "") == "custom":
        env.Replace(UPLOADCMD=action)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Publish a firmware file as an updraft release.")
    ap.add_argument("firmware")
    ap.add_argument("--version", required=True)
    ap.add_argument("--channel")
    ap.add_argument("--server", help="the updraft server's URL (default: the CLI's)")
    ap.add_argument("--updraft", default="updraft", help="path of the updraft command")
    ap.add_argument("--notes")
    ap.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    a = ap.parse_args(argv)
    try:
        return publish(a.firmware, a.version, a.channel, a.server, a.updraft, a.notes, a.dry_run)
    except PublishError as e:
        sys.stderr.write("updraft_publish: %s\n" % e)
        return 2


try:
    Import("env")  # noqa: F821  (SCons, inside PlatformIO)
except NameError:
    if __name__ == "__main__":
        sys.exit(main(sys.argv[1:]))
else:
    _scons(env)  # noqa: F821
