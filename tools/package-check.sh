#!/usr/bin/env bash
# Install the Debian package on a clean Debian 12 and start the service from it, as root,
# in a chroot (debootstrap'ed here unless one is given), without touching this machine:
#
#   sudo tools/package-check.sh build/release/updraft_0.1.0_amd64.deb [CHROOT_DIR]
#
# 1. debootstrap --variant=minbase bookworm (unless CHROOT_DIR holds one already);
# 2. apt-get install ./updraft_*.deb in it (its dependencies from the Debian mirror);
# 3. checks what the postinst did: the updraft system user, /var/lib/updraft (0700,
#    updraft), /etc/updraft/updraft.conf;
# 4. starts the packaged service's command (the unit's ExecStart) as the updraft user,
#    on 127.0.0.1 (a free port; a chroot has no systemd to start it: the unit itself is checked
#    by tests/server/test_service.py group unit), waits for /readyz, publishes a release
#    with the admin token the server generated, and asks for an update as an ESP8266;
# 5. stops it (SIGTERM, exit status 0), apt-get purge, and checks the data stayed.
# Prints each step and exits non-zero at the first failure. The output of a run is kept
# in packaging/debian/package-check.txt (docs/operations.md "Debian package").
set -euo pipefail
deb=${1:?usage: package-check.sh PACKAGE.deb [CHROOT_DIR]}
[ "$(id -u)" -eq 0 ] || { echo "package-check.sh: needs root (chroot, debootstrap)" >&2; exit 2; }
root=${2:-$(mktemp -d /tmp/updraft-chroot.XXXXXX)/root}
say() { printf '\n== %s\n' "$*"; }
mounted=0
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
    [ "$mounted" = 1 ] && umount "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT

if [ ! -x "$root/usr/bin/apt-get" ]; then
    say "debootstrap bookworm (minbase) into $root"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
say "a clean Debian: $(cat "$root/etc/debian_version"), updraft installed: $(chroot "$root" dpkg-query -W -f='${Status}' updraft 2>/dev/null || echo no)"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc" && mounted=1
cp "$deb" "$root/tmp/"
say "apt-get install ./$(basename "$deb")"
chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/$(basename "$deb")" | tail -3
chroot "$root" dpkg-query -W -f='${Package} ${Version} ${Status}\n' updraft

say "what the package set up"
chroot "$root" getent passwd updraft
chroot "$root" stat -c '%n %U:%G %a' /var/lib/updraft /etc/updraft/updraft.conf /usr/bin/updraft /usr/lib/systemd/system/updraft.service
grep -v '^#' "$root/etc/updraft/updraft.conf" | grep .
chroot "$root" updraft --version
chroot "$root" sh -c 'man -w updraft 2>/dev/null || ls /usr/share/man/man1/updraft.1*'

say "start: the unit's ExecStart as the updraft user (listen overridden to 127.0.0.1:0)"
exec_start=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/updraft.service")
echo "ExecStart=$exec_start"
chroot --userspec=updraft:updraft "$root" $exec_start --listen 127.0.0.1:0 \
    > "$root/tmp/serve.out" 2>&1 &
pid=$!
port=
for _ in $(seq 50); do
    port=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$root/tmp/serve.out")
    [ -n "$port" ] && break
    sleep 0.2
done
cat "$root/tmp/serve.out"
[ -n "$port" ] || { echo "the server did not start" >&2; exit 1; }
export UPD_PORT=$port
token=$(cat "$root/var/lib/updraft/admin-token")
python3 - "$token" <<'PY'
import hashlib, json, os, random, struct, sys, urllib.request
token = sys.argv[1]
def get(path, hdrs=None, data=None, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (os.environ["UPD_PORT"], path), data=data, method=method,
                                 headers=hdrs or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
print("GET /readyz:", get("/readyz")[:2])
# a small Arduino ESP8266 image: eboot at 0 (padded to 0x1000), then the application
def esptool_v1(segs, entry):
    out = bytearray([0xE9, len(segs), 2, 0x40]) + struct.pack("<I", entry)
    cs = 0xEF
    for load, data in segs:
        out += struct.pack("<II", load, len(data)) + data
        for b in data:
            cs ^= b
    return out + bytes(15 - len(out) % 16) + bytes([cs])
rnd = random.Random(1)
eboot = esptool_v1([(0x4010F000, rnd.randbytes(1384))], 0x4010F29C)
img = eboot + b"\xaa" * (0x1000 - len(eboot))
img += esptool_v1([(0x40201010, rnd.randbytes(3001)), (0x40100000, rnd.randbytes(743)),
                   (0x3FFE8000, rnd.randbytes(96))], 0x401000B8)
st, body, _ = get("/api/v1/releases?version=1.0.0&channel=stable",
                  {"Authorization": "Bearer " + token,
                   "Content-Type": "application/octet-stream"}, bytes(img), "POST")
print("POST /api/v1/releases:", st, json.loads(body).get("id", body[:200]))
st, body, h = get("/update", {"User-Agent": "ESP8266-http-Update",
                              "x-ESP8266-STA-MAC": "5C:CF:7F:00:00:01",
                              "x-ESP8266-free-space": "1000000",
                              "x-ESP8266-sketch-size": "300000",
                              "x-ESP8266-sketch-md5": "0" * 32,
                              "x-ESP8266-chip-size": "4194304",
                              "x-ESP8266-sdk-version": "2.2.2-dev(38a443e)",
                              "x-ESP8266-mode": "sketch", "x-ESP8266-version": "0.9"})
print("device check: %d, %d bytes, x-MD5 %s (image %s)" % (
    st, len(body), h.get("x-MD5"), hashlib.md5(img).hexdigest()))
assert st == 200 and body == bytes(img)
st, body, _ = get("/metrics", {"Authorization": "Bearer " + token})
print("metrics:", [l for l in body.decode().splitlines() if l.startswith("updraft_checks_total{result=\"offered\"")])
PY

say "stop (SIGTERM)"
kill -TERM "$pid"
wait "$pid"; echo "exit status $?"
pid=
tail -1 "$root/tmp/serve.out"

say "apt-get purge updraft"
chroot "$root" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq updraft' | tail -2
chroot "$root" sh -c 'ls /etc/updraft 2>&1; ls /var/lib/updraft'
echo "package check: OK"
