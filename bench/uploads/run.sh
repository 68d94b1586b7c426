#!/usr/bin/env bash
# Device checks while release uploads run (issue 12: "finishing an upload never runs on a
# thread that serves device checks"). One `updraft serve` (release build, --threads 2),
# loopback only. Each round runs, back to back:
#
#   alone    wrk, the ESP8266 check of a device on the current release (304), DURATION s;
#   uploads  the same wrk run while UPLOADERS curl loops upload ~UPLOAD_MB MB releases
#            (distinct images, so each one is written, fsynced, hashed, inspected and
#            recorded) for the whole run.
#
# The result is the ratio of checks/s with uploads to checks/s alone, in the same round
# (so the machine's other load hits both alike), and the checks' p99 and max latency in
# both. Before the finisher (src/server/finisher.c) the finishing ran on the daemon
# thread that had read the upload, which answers devices too.
#
# Usage: bench/uploads/run.sh   (about 2 minutes)
# Settings (environment): ROUNDS=3 DURATION=10 WRK_CONNS=32 UPLOADERS=2 UPLOAD_MB=40
#   SKIP_BUILD=1 (use build/release as it is) OUT=bench/results/uploads.md
# Needs: wrk, curl, cmake+ninja (unless SKIP_BUILD=1). Exits 0 whatever the numbers are.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WRK_CONNS=${WRK_CONNS:-32}
UPLOADERS=${UPLOADERS:-2}
UPLOAD_MB=${UPLOAD_MB:-40}
OUT=${OUT:-$ROOT/bench/results/uploads.md}
UPDRAFT=$ROOT/build/release/src/cli/updraft
MKIMAGE=$ROOT/build/release/tests/cli/mkimage
TOKEN=bench-token-0123456789abcdef

log() { echo "[uploads] $*" >&2; }
die() {
    log "$*"
    exit 1
}
command -v wrk >/dev/null || die "wrk is not installed (apt-get install -y wrk)"
command -v curl >/dev/null || die "curl is not installed"

WORK=$(mktemp -d /tmp/updraft-bench-uploads.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${SKIP_BUILD:-}" ]; then
    log "building (cmake --preset release)"
    (cd "$ROOT" && cmake --preset release >/dev/null &&
        cmake --build --preset release --target updraft mkimage >/dev/null) ||
        log "warning: build failed; using the binaries already in build/release"
fi
[ -x "$UPDRAFT" ] && [ -x "$MKIMAGE" ] || die "build/release lacks updraft or mkimage"

# ---- the server and its release -------------------------------------------------------
UPDRAFT_ADMIN_TOKEN=$TOKEN "$UPDRAFT" serve --listen 127.0.0.1:0 --data "$WORK/data" \
    --threads 2 --max-upload $((UPLOAD_MB + 8)) >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
SRV_PID=$!
for _ in $(seq 100); do
    PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$WORK/serve.out")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "${PORT:-}" ] || die "updraft serve did not start: $(cat "$WORK/serve.err")"
URL=http://127.0.0.1:$PORT
"$MKIMAGE" esp8266-app "$WORK/fw.bin" 300000 1 >/dev/null || die "mkimage failed"
curl -sf -H "Authorization: Bearer $TOKEN" --data-binary @"$WORK/fw.bin" \
    "$URL/api/v1/releases?version=2.0.0&channel=stable" >/dev/null || die "release upload failed"
FW_MD5=$(md5sum "$WORK/fw.bin" | cut -d' ' -f1)
FW_SIZE=$(stat -c %s "$WORK/fw.bin")
# the ESP8266 check of a device that runs the release (spec section 8): 304
printf '%s\r\n' "GET /update HTTP/1.0" "Host: 127.0.0.1:$PORT" "User-Agent: ESP8266-http-Update" \
    "Connection: close" "x-ESP8266-Chip-ID: 15602487" "x-ESP8266-STA-MAC: 5C:CF:7F:00:00:01" \
    "x-ESP8266-AP-MAC: 5E:CF:7F:00:00:01" "x-ESP8266-free-space: 1695744" \
    "x-ESP8266-sketch-size: $FW_SIZE" "x-ESP8266-sketch-md5: $FW_MD5" \
    "x-ESP8266-chip-size: 4194304" "x-ESP8266-sdk-version: 2.2.2-dev(38a443e)" \
    "x-ESP8266-mode: sketch" "x-ESP8266-version: 2.0.0" "Content-Length: 0" "" >"$WORK/check.req"
STATUS=$(exec 3<>"/dev/tcp/127.0.0.1/$PORT" && cat "$WORK/check.req" >&3 && head -1 <&3 | tr -d '\r')
log "the check answers: $STATUS (304 expected)"

# distinct upload images: each one is new to the server
for i in $(seq "$UPLOADERS"); do
    "$MKIMAGE" esp32-app "$WORK/up$i.bin" $((UPLOAD_MB * 1000000)) $((100 + i)) >/dev/null ||
        die "mkimage failed"
done
UP_SIZE=$(stat -c %s "$WORK/up1.bin")

# uploader N: upload its image again and again (a new version each time, the previous
# release deleted so the bytes are new to the server: the full finishing every time)
uploader() {
    local n=$1 k=0 code
    while [ ! -e "$WORK/stop" ]; do
        k=$((k + 1))
        code=$(curl -s -o "$WORK/up$n.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
            --data-binary @"$WORK/up$n.bin" "$URL/api/v1/releases?version=9.$n.$k&platform=esp32")
        echo "$code" >>"$WORK/codes"
        id=$(sed -n 's/^{"id":\([0-9]*\).*/\1/p' "$WORK/up$n.json")
        [ -n "$id" ] && curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" \
            "$URL/api/v1/releases/$id"
    done
}

wrk_run() { # -> "checks/s p99_us errors"
    timeout $((DURATION + 15)) wrk -t2 -c"$WRK_CONNS" -d"${DURATION}s" \
        -s "$ROOT/bench/server/device.lua" "$URL" -- "$WORK/check.req" 2>&1 |
        awk '/^WRK /{for(i=2;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]}
                     e=v["err_connect"]+v["err_read"]+v["err_write"]+v["err_status"]+v["err_timeout"]
                     printf "%.0f %d %d\n", v["requests"]/(v["duration_us"]/1e6), v["p99_us"], e}'
}

declare -a ALONE WITH RATIO P99A P99U
for r in $(seq "$ROUNDS"); do
    read -r a pa ea < <(wrk_run)
    rm -f "$WORK/stop" "$WORK/codes"
    for i in $(seq "$UPLOADERS"); do
        uploader "$i" &
        PIDS+=($!)
    done
    sleep 1 # the uploads are under way
    read -r u pu eu < <(wrk_run)
    touch "$WORK/stop"
    wait "${PIDS[@]:1}" 2>/dev/null
    PIDS=("$SRV_PID")
    n=$(wc -l <"$WORK/codes")
    ALONE+=("$a")
    WITH+=("$u")
    P99A+=("$pa")
    P99U+=("$pu")
    RATIO+=("$(awk -v u="$u" -v a="$a" 'BEGIN{printf "%.2f", a ? u / a : 0}')")
    log "round $r: alone $a checks/s (p99 $pa us, $ea errors), with uploads $u checks/s (p99 $pu us, $eu errors), $n uploads ($(sort "$WORK/codes" | uniq -c | tr -s ' ' | tr '\n' ' '))"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

{
    echo "# Device checks during uploads"
    echo
    echo "Written by \`bench/uploads/run.sh\` (method in the script's header). Do not edit by"
    echo "hand: run the script again."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
    echo "| machine | $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end (other jobs share the machine) |"
    echo "| updraft | $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), release build, \`--threads 2\` |"
    echo "| checks | wrk \`-t2 -c$WRK_CONNS -d${DURATION}s\`, the ESP8266 check of a current device (304) |"
    echo "| uploads | $UPLOADERS curl loops, each an ESP32 image of $UP_SIZE bytes, a new release each time (deleted after) |"
    echo
    echo "| | median | each round |"
    echo "|---|---:|---|"
    echo "| checks/s alone | $(median "${ALONE[@]}") | ${ALONE[*]} |"
    echo "| checks/s with uploads | $(median "${WITH[@]}") | ${WITH[*]} |"
    echo "| **ratio** (with uploads / alone) | **$(median "${RATIO[@]}")** | ${RATIO[*]} |"
    echo "| check p99 alone (us) | $(median "${P99A[@]}") | ${P99A[*]} |"
    echo "| check p99 with uploads (us) | $(median "${P99U[@]}") | ${P99U[*]} |"
} >"$OUT"
log "wrote $OUT"
cat "$OUT"
exit 0
