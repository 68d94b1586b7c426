#!/usr/bin/env bash
# 10,000 simulated devices through one `updraft serve`, full cycle (check, download,
# write, verify, reboot with eboot's copy, check again): wall time, the simulator's
# memory and the server's peak RSS (VmHWM). Writes bench/results/sim.md.
#
#   bench/sim/run.sh [DEVICES] [CODE_BYTES]
#
# Own release build with clang in build/bench-sim (not shared with other builds).
# Scenarios: a clean fleet, and the same fleet with faults during the client's work.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}
CODE=${2:-300000}
BUILD=build/bench-sim
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target updraft mkimage >/dev/null
UPD=$BUILD/src/cli/updraft
MK=$BUILD/tests/cli/mkimage
ulimit -n "$(ulimit -Hn)"
TMP=$(mktemp -d)
SRV_PID=
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
TOKEN=bench-sim-token-0123456789
"$MK" esp8266-app "$TMP/app.bin" "$CODE" 7
SIZE=$(stat -c %s "$TMP/app.bin")

# run NAME FAULTS: a fresh server, the release, the fleet; one table row
ROWS=
run() {
  local name=$1 faults=$2 port out json hwm rc
  rm -rf "$TMP/data"
  UPDRAFT_ADMIN_TOKEN=$TOKEN "$UPD" serve --listen 127.0.0.1:0 --data "$TMP/data" \
    >"$TMP/serve.log" 2>&1 &
  SRV_PID=$!
  for _ in $(seq 50); do
    port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$TMP/serve.log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  curl -sf -H "Authorization: Bearer $TOKEN" --data-binary @"$TMP/app.bin" \
    "http://127.0.0.1:$port/api/v1/releases?version=2.0.0&channel=stable" >/dev/null
  local args=(sim --server "http://127.0.0.1:$port/update" --devices "$N" --seed 1 --json --quiet)
  [ -n "$faults" ] && args+=(--faults "$faults")
  echo "== $name: updraft ${args[*]}" >&2
  # exit status 0 only when every device converged and none was bricked by the client
  # (docs/sim.md): the goal is met only then, whatever the time
  rc=0
  out=$("$UPD" "${args[@]}") || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "bench/sim: updraft sim failed with exit status $rc" >&2
    exit 1
  fi
  json=$(printf '%s\n' "$out" | tail -1)
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SRV_PID/status")
  kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  echo "$json" >&2
  ROWS+=$(python3 - "$name" "$faults" "$hwm" "$json" "$rc" <<'PY'
import json, sys
name, faults, hwm, j = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
rc = int(sys.argv[5])
failed = sum(j["failed"].values())
if rc != 0:
    goal = "MISSED: %d of %d devices neither updated nor current, %d bricked by the client " \
        "(sim exit %d)" % (j["devices"] - j["updated"] - j["current"], j["devices"],
                           j["bricked_client"], rc)
elif j["seconds"] >= 300:
    goal = "MISSED: over 5 minutes"
else:
    goal = "met"
print("| %s | `%s` | %d | %d | %d | %d | %d / %d | %d | %.1f | %.2f | %d | %d | %s |" % (
    name, faults or "none", j["devices"], j["updated"], j["current"], failed,
    j["bricked_client"], j["bricked_bootloader"], j["retries"], j["seconds"],
    j["bytes"] / 1e9, j["peak_rss_kb"] // 1024, hwm // 1024, goal))
PY
)$'\n'
}

run clean ""
run faults "drop=0.02,truncate=0.02,corrupt=0.02,powercut=0.05,weakwrite=0.02"

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
cat > bench/results/sim.md <<MD
# Fleet simulation benchmark

Written by \`bench/sim/run.sh\` (do not edit by hand: run the script again).

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| machine | $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr) |
| load average after | $LOAD (other jobs share the machine) |
| updraft | $(git describe --always --dirty), clang release build, server and simulator on the same CPUs |
| release | synthetic ESP8266 Arduino app (\`mkimage esp8266-app\`), $SIZE bytes |
| devices | $N ESP8266 (layout esp8266-4m1m), each the real update engine (all features: resume, SHA-256, inspector) on sparse simulated flash, 256 connections at once, one epoll loop |

Full cycle per device: check (200 + image), download and write to the staging area,
verify (MD5, SHA-256, the core's inspector), eboot command, reboot (eboot copies the
image to 0, the boot check inspects it), check again (304). Goal: under 5 minutes, with
every device converged (updated or current) and none bricked by the client: the
simulator's exit status says so, and a run where it is not 0 misses the goal.

| scenario | faults | devices | updated | current | failed | bricked client / boot loader | retries | wall s | GB sent | sim peak RSS MB | server peak RSS MB | goal < 5 min |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
$ROWS
"GB sent" counts the bytes the devices took. Server RSS is VmHWM of \`updraft serve\`
(fresh data dir per scenario); sim RSS is the simulator's peak (sector pages are shared
between devices with identical flash, see docs/sim.md).
MD
cat bench/results/sim.md
