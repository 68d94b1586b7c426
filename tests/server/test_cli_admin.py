#!/usr/bin/env python3
"""The admin CLI speaks CLI (issue 10): every command and subcommand has complete --help on
stdout with exit 0, unknown words get the closest suggestion, errors name commands and flags
(never API paths or JSON), listings and show/retire print human views, and the CLI finds the
server and its token without exported variables (`updraft login`, the data dir's
admin-token). The real binary against the real `updraft serve` on 127.0.0.1.

usage: test_cli_admin.py UPDRAFT_BINARY FIRMWARE_DIR GROUP
GROUP: help errors login lifecycle"""
import os
import stat
import subprocess
import sys
import tempfile

import test_server as t
from test_server import Server, arduino_bin, check, eq, esp8266_request

API_WORDS = ("/api/v1", "{\"", "PUT ", "POST ", "GET ")


def run(args, env=None, cwd=None, stdin=None):
    p = subprocess.run([t.BIN] + list(args), capture_output=True, text=True, env=env, cwd=cwd,
                       input=stdin, timeout=30)
    return p.returncode, p.stdout, p.stderr


def no_api_words(text, what):
    for w in API_WORDS:
        check(w not in text, "%s: no API terms (%r) in %r" % (what, w, text))


def clean_env(**kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPDRAFT_")}
    env.update(kw)
    return env


def t_help():
    subs = {"release": ["add", "list", "show", "retire", "unretire", "delete"],
            "device": ["list", "show", "pin", "unpin", "channel", "retry", "delete", "tag", "untag"],
            "channel": ["set", "list"]}
    for cmd, names in subs.items():
        rc, out, err = run([cmd, "--help"])
        eq((rc, err), (0, ""), "updraft %s --help: exit 0, nothing on stderr" % cmd)
        for n in names:
            check("updraft %s %s" % (cmd, n) in out, "%s --help lists %s" % (cmd, n))
            rc, out2, err2 = run([cmd, n, "--help"])
            eq((rc, err2), (0, ""), "updraft %s %s --help: exit 0" % (cmd, n))
            check(out2.startswith("usage: updraft %s %s" % (cmd, n)),
                  "%s %s --help starts with its usage: %r" % (cmd, n, out2[:80]))
            # every option of the synopsis is explained
            synopsis = out2.splitlines()[0]
            for word in synopsis.split():
                opt = word.strip("[]")
                if opt.startswith("--"):
                    check(out2.count(opt) >= 2, "%s %s --help explains %s" % (cmd, n, opt))
            rc, out3, _ = run([cmd, "help", n])
            eq((rc, out3), (0, out2), "updraft %s help %s = --help" % (cmd, n))
    rc, out, err = run(["release", "lst"])
    check(rc == 2 and "unknown subcommand 'lst'; did you mean 'list'?" in err,
          "unknown subcommand suggests the closest: %r" % err)
    rc, out, err = run(["relase", "list"])
    check(rc == 2 and "did you mean 'release'?" in err, "unknown command suggests: %r" % err)
    rc, out, err = run(["device", "list", "--jsn"])
    check(rc == 2 and "unknown option '--jsn'; did you mean --json?" in err,
          "unknown option suggests: %r" % err)
    rc, out, err = run(["release"])
    check(rc == 2 and "usage: updraft release" in err and not out, "no subcommand: usage, 2")
    rc, out, err = run(["login", "--help"])
    check(rc == 0 and "usage: updraft login URL" in out, "login --help")


def t_errors():
    srv = Server()
    try:
        env = clean_env(UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
        tmp = tempfile.TemporaryDirectory()
        f = os.path.join(tmp.name, "app.bin")
        open(f, "wb").write(arduino_bin(seed=71))
        rc, out, err = run(["release", "add", f], env=env)
        check(rc == 1 and "--version" in err and "the image names none" in err,
              "release add without --version names the flag: %r" % err)
        no_api_words(err, "release add without --version")
        rc, out, err = run(["release", "add", f, "--version", "1.0", "--channel", "stable"], env)
        eq(rc, 0, "release add: %s" % err)
        rc, out, err = run(["release", "add", f, "--version", "1.1"], env)
        check(rc == 1 and "already release 1" in err and "updraft channel set CHANNEL 1" in err,
              "duplicate upload in CLI words: %r" % err)
        no_api_words(err, "duplicate upload")
        cases = [
            (["release", "show", "99"], 1, "there is no release 99"),
            (["release", "show", "x"], 2, "'x' is not a release id"),
            (["release", "retire", "99"], 1, "there is no release 99"),
            (["channel", "set", "stable", "99"], 1, "there is no release 99"),
            (["channel", "set", "bad name", "1"], 1, "not a channel name"),
            (["device", "show", "DE:BA:7A:B1:E0:99"], 1, "no device DE:BA:7A:B1:E0:99"),
            (["device", "show", "not-a-mac"], 1, "not a MAC address"),
            (["device", "pin", "DE:BA:7A:B1:E0:42", "99"], 1, "there is no release 99"),
            (["device", "channel", "DE:BA:7A:B1:E0:42", "a/b"], 1, "not a channel name"),
            (["device", "retry", "DE:BA:7A:B1:E0:98"], 1, "no device DE:BA:7A:B1:E0:98"),
            (["device", "list", "--seen-since", "yesterday"], 1, "--seen-since must be"),
            (["device", "pin", "DE:BA:7A:B1:E0:42"], 2, "usage: updraft device pin MAC RELEASE"),
        ]
        for args, want_rc, words in cases:
            rc, out, err = run(args, env)
            check(rc == want_rc and words in err,
                  "%s: exit %d with %r: got %d %r" % (" ".join(args), want_rc, words, rc, err))
            no_api_words(err, " ".join(args))
        # human views, not JSON
        rc, out, err = run(["release", "show", "1"], env)
        check(rc == 0 and "version        1.0" in out and "{" not in out,
              "release show prints fields: %r" % out[:200])
        check("MD5 in QIO flash mode" in out, "release show lists the device hashes")
        rc, out, err = run(["release", "show", "1", "--json"], env)
        check(rc == 0 and out.lstrip().startswith("{"), "release show --json")
        rc, out, err = run(["release", "retire", "1", "--force"], env)
        check(rc == 0 and "release 1 (version 1.0) is retired" in out and "{" not in out,
              "release retire says what happened: %r" % out)
        # long values keep the columns (cut with an ellipsis)
        g = os.path.join(tmp.name, "b.bin")
        open(g, "wb").write(arduino_bin(seed=72))
        long_v = "2.0.0-really-long-prerelease-tag.with.many.parts"
        eq(run(["release", "add", g, "--version", long_v], env)[0], 0, "add a long version")
        rc, out, err = run(["release", "list"], env)
        lines = out.splitlines()
        head = lines[0]
        row = [ln for ln in lines if ln.startswith("2 ")][0]
        check("\u2026" in row, "a long version is cut with an ellipsis: %r" % row)
        eq(row.index("esp8266"), head.index("PLATFORM"), "columns stay aligned")
        # ESP32 apps name their version, unless it is the framework's
        e = os.path.join(tmp.name, "e.bin")
        open(e, "wb").write(t.esp32_app(seed=73, version="esp-idf: v4.4.7 38eeba213a"))
        rc, out, err = run(["release", "add", e], env=env)
        check(rc == 1 and "is the framework's" in err and "--version" in err,
              "an ESP-IDF framework version is never used silently: %r" % err)
        no_api_words(err, "framework version")
        open(e, "wb").write(t.esp32_app(seed=74, version="2.3.1"))
        rc, out, err = run(["release", "add", e, "--json"], env=env)
        check(rc == 0 and '"version":\t"2.3.1"' in out, "the app's own version is used: %r" % out)
        # a wrong token says which token was used and what to do, in CLI terms
        rc, out, err = run(["release", "list"], clean_env(UPDRAFT_URL=env["UPDRAFT_URL"],
                                                          UPDRAFT_TOKEN="nope"))
        check(rc == 1 and "the token in UPDRAFT_TOKEN" in err and "updraft login" in err,
              "wrong token: %r" % err)
        no_api_words(err, "wrong token")
        # UPDRAFT_URL set to the devices' URL: recognised and explained
        rc, out, err = run(["release", "list"], clean_env(
            UPDRAFT_URL="http://127.0.0.1:%d/update" % srv.port, UPDRAFT_TOKEN=t.TOKEN))
        check(rc == 0 and "is where devices ask for updates" in err and "3" not in err[:0],
              "UPDRAFT_URL with /update: works, with a note: %r" % err)
    finally:
        srv.stop()


def t_login():
    srv = Server(env_token=False)  # the server makes its own token in its data dir
    try:
        url = "http://127.0.0.1:%d" % srv.port
        token = open(os.path.join(srv.data, "admin-token")).read().strip()
        cfg = tempfile.TemporaryDirectory()
        # on the server host: the data dir's token file, nothing exported
        home = tempfile.TemporaryDirectory()
        os.symlink(srv.data, os.path.join(home.name, "updraft-data"))
        rc, out, err = run(["release", "list"], clean_env(UPDRAFT_URL=url, HOME=cfg.name,
                                                          XDG_CONFIG_HOME=cfg.name), cwd=home.name)
        eq((rc, err), (0, ""), "./updraft-data/admin-token found without UPDRAFT_TOKEN")
        rc, out, err = run(["release", "list"], clean_env(UPDRAFT_URL=url, UPDRAFT_DATA=srv.data,
                                                          XDG_CONFIG_HOME=cfg.name))
        eq((rc, err), (0, ""), "UPDRAFT_DATA's admin-token found")
        # login with a wrong token: refused, nothing saved
        env = clean_env(XDG_CONFIG_HOME=cfg.name, HOME=cfg.name)
        rc, out, err = run(["login", url, "--token", "wrong"], env)
        check(rc == 1 and "the token given" in err, "login with a wrong token: %r" % err)
        login = os.path.join(cfg.name, "updraft", "login")
        check(not os.path.exists(login), "nothing saved after a refused login")
        # the token on standard input
        rc, out, err = run(["login", url], env, stdin=token + "\n")
        check(rc == 0 and "logged in to " + url in out, "login: %r %r" % (out, err))
        mode = stat.S_IMODE(os.stat(login).st_mode)
        eq(mode, 0o600, "the login file is readable by its owner alone")
        rc, out, err = run(["release", "list"], env, cwd=cfg.name)
        eq((rc, err), (0, ""), "admin commands use the saved server and token")
        rc, out, err = run(["login", url + "/update", "--token", token], env)
        check(rc == 0 and "logged in to " + url in out, "login with the devices' URL: %r" % out)
        rc, out, err = run(["logout"], env)
        check(rc == 0 and not os.path.exists(login), "logout removes it")
        rc, out, err = run(["release", "list"], clean_env(UPDRAFT_URL=url, XDG_CONFIG_HOME=cfg.name),
                           cwd=cfg.name)
        check(rc == 1 and "needs its admin token" in err and "updraft login" in err,
              "no token anywhere: says how to get one: %r" % err)
    finally:
        srv.stop()


def t_lifecycle():
    srv = Server()
    try:
        env = clean_env(UPDRAFT_URL="http://127.0.0.1:%d" % srv.port, UPDRAFT_TOKEN=t.TOKEN)
        tmp = tempfile.TemporaryDirectory()

        def fw(seed, **kw):
            f = os.path.join(tmp.name, "fw%d.bin" % seed)
            open(f, "wb").write(t.arduino_bin(seed=seed, **kw))
            return f

        def cli(*args):
            rc, out, err = run(args, env)
            no_api_words(err, " ".join(args))
            return rc, out, err
        f1, f2 = fw(201), fw(202)
        eq(cli("release", "add", f1, "--version", "1.0", "--channel", "stable")[0], 0, "add 1")
        eq(cli("release", "add", f2, "--version", "1.1", "--channel", "stable")[0], 0, "add 2")
        rc, out, err = cli("release", "list")
        row = [ln for ln in out.splitlines() if ln.startswith("2 ")][0]
        check("stable" in row and "stable" not in [ln for ln in out.splitlines()
                                                   if ln.startswith("1 ")][0],
              "release list shows the channel serving each release now: %r" % out)
        # retiring what a channel serves: refused, then with a fallback
        rc, out, err = cli("release", "retire", "2")
        check(rc == 1 and "current esp8266 sketch release of channel 'stable'" in err and
              "--fallback previous" in err and "--force" in err, "retire current: %r" % err)
        rc, out, err = cli("release", "retire", "2", "--fallback", "previous")
        check(rc == 0 and "channel stable now serves release 1 (version 1.0)" in out,
              "retire --fallback previous: %r %r" % (out, err))
        r = srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E3:01", version="0.9"))
        eq((r.status, r.headers.get("x-version")), (200, "1.0"), "devices get the previous one")
        rc, out, err = cli("release", "retire", "1", "--force")
        check(rc == 0 and "channel stable serves no esp8266 release now" in out,
              "retire --force says the channel is empty: %r" % out)
        # a retired file uploaded again; unretire
        rc, out, err = cli("release", "add", f1, "--version", "1.0")
        check(rc == 1 and "release 1, which is retired" in err and
              "updraft release unretire 1" in err, "re-upload of a retired file: %r" % err)
        rc, out, err = cli("release", "unretire", "1")
        check(rc == 0 and "release 1 (version 1.0) can be offered again" in out, "unretire")
        eq(cli("channel", "set", "stable", "1")[0], 0, "stable serves 1 again")
        # the same version with other bytes
        f3 = fw(203)
        rc, out, err = cli("release", "add", f3, "--version", "1.0")
        check(rc == 1 and "release 1 already has version 1.0" in err and "--replace" in err,
              "same version, other bytes: refused: %r" % err)
        rc, out, err = cli("release", "add", f3, "--version", "1.0", "--replace")
        check(rc == 0 and "release 3" in out, "--replace: %r" % err)
        rc, out, err = cli("release", "show", "1", "--json")
        import json
        check(json.loads(out)["retired"] is True, "--replace retired the old build")
        rc, out, err = cli("channel", "list")
        check(any(ln.startswith("stable") and " 3 " in ln for ln in out.splitlines()),
              "--replace: the channel serves the new build: %r" % out)
        eq(cli("release", "add", fw(204), "--version", "1.0", "--allow-duplicate")[0], 0,
           "--allow-duplicate keeps both")
        # channels that do not exist
        rc, out, err = cli("channel", "set", "stabel", "3")
        check(rc == 1 and "there is no channel 'stabel'" in err and "did you mean 'stable'?" in err
              and "--create" in err, "channel typo: %r" % err)
        eq(cli("channel", "set", "beta", "3", "--create")[0], 0, "channel set --create")
        mac = "DE:BA:7A:B1:E3:01"
        rc, out, err = cli("device", "channel", mac, "betta")
        check(rc == 1 and "did you mean 'beta'?" in err, "device channel typo: %r" % err)
        eq(cli("device", "channel", mac, "beta")[0], 0, "device channel beta")
        # pins a device cannot take
        e32 = os.path.join(tmp.name, "e32.bin")
        open(e32, "wb").write(t.esp32_app(seed=205))
        rc, out, err = cli("release", "add", e32, "--version", "9.0")
        eq(rc, 0, "an ESP32 release")
        e32_id = out.split()[1].rstrip(":")
        eq(e32_id, "5", "the ESP32 release's id")
        rc, out, err = cli("device", "pin", mac, e32_id)
        check(rc == 1 and "cannot take release %s" % e32_id in err and "--force" in err,
              "pin to another platform's release: %r" % err)
        rc, out, err = cli("device", "pin", mac, e32_id, "--force")
        eq(rc, 0, "pin --force")
        # delete only what nothing needs
        rc, out, err = cli("release", "delete", e32_id)
        check(rc == 1 and "1 device is pinned to it" in err and "--pinned %s" % e32_id in err,
              "delete a pinned release: %r" % err)
        rc, out, err = cli("device", "list", "--pinned", e32_id)
        check(mac in out, "device list --pinned")
        rc, out, err = cli("release", "delete", "3")
        check(rc == 1 and "channels 'beta', 'stable' serve it" in err and "pinned to it" not in err,
              "delete a release channels serve: %r" % err)
        eq(cli("device", "unpin", mac)[0], 0, "unpin")
        sha = srv.api("GET", "/api/v1/releases/" + e32_id).json["sha256"]
        blob = os.path.join(srv.data, "blobs", "sha256", sha[:2], sha)
        check(os.path.exists(blob), "the blob exists before the delete")
        rc, out, err = cli("release", "delete", e32_id)
        check(rc == 0 and "release %s (version 9.0) is deleted" % e32_id in out, "delete: %r" % err)
        check(not os.path.exists(blob), "its file is gone")
        eq(cli("release", "show", e32_id)[0], 1, "a deleted release is gone")
        # paging: never a silent cut
        for i in range(5):
            srv.raw(esp8266_request(srv.port, mac="DE:BA:7A:B1:E4:%02X" % i))
        rc, out, err = cli("device", "list", "--limit", "2")
        lines = out.strip().splitlines()
        eq(len(lines), 6, "header, 2 rows, the total line, the next page's command")
        check(lines[3] == "devices 1-2 of 6" and "--all lists every one" in lines[4] and
              lines[5].startswith("  updraft device list --limit 2 --after "),
              "the total and how to see the rest: %r" % lines[3:])
        rc, out, err = cli("device", "list", "--all")
        check("devices 1-6 of 6" in out and len(out.strip().splitlines()) == 8, "--all")
        rc, out, err = cli("device", "list", "--json", "--limit", "2", "--offset", "4")
        import json
        js = json.loads(out)
        eq((js["total"], len(js["devices"])), (6, 2), "--json with total and a page")
    finally:
        srv.stop()


GROUPS = {"help": t_help, "errors": t_errors, "login": t_login, "lifecycle": t_lifecycle}

if __name__ == "__main__":
    GROUPS[t.GROUP]()
    if t.FAILS:
        print("%d check(s) failed in group %s" % (len(t.FAILS), t.GROUP))
        sys.exit(1)
    print("ok: group %s" % t.GROUP)
