#!/usr/bin/env bash
# 10,000 simulated devices through one `updraft serve`, full cycle (check, download,
# write, verify, reboot with eboot's copy, check again): wall time, the simulator's
# CPU per device against a reference build of the simulator, its memory and the
# server's peak RSS (VmHWM). Writes bench/results/sim.md.
#
#   bench/sim/run.sh [DEVICES] [CODE_BYTES]
#
# Environment: SIM_REF=REV the reference (default 28a3635, the simulator before its
# memoised hashes, cheaper flash writes and page reuse), ROUNDS=N clean runs of each
# build (default 3), alternating reference and current, medians reported.
#
# Own release builds with clang in build/bench-sim and build/bench-sim-ref (the
# reference's sources from `git archive`; not shared with other builds). Scenarios: the
# clean fleet (both builds, ROUNDS each), and the same fleet with faults during the
# client's work (current build). Every run gets a fresh server.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}
CODE=${2:-300000}
REF=${SIM_REF:-28a3635}
ROUNDS=${ROUNDS:-3}
BUILD=build/bench-sim
REFBUILD=build/bench-sim-ref
[ -x /usr/bin/time ] || { echo "bench/sim: needs /usr/bin/time (GNU time)" >&2; exit 1; }
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target updraft mkimage >/dev/null
REFREV=$(git rev-parse --short "$REF^{commit}")
if [ "$(cat "$REFBUILD/rev" 2>/dev/null)" != "$REFREV" ]; then
  rm -rf "$REFBUILD"
  mkdir -p "$REFBUILD/src"
  git archive "$REFREV" | tar -x -C "$REFBUILD/src"
  ln -s "$(cd .. && pwd)/shared" "$REFBUILD/shared" 2>/dev/null || true
  cmake -S "$REFBUILD/src" -B "$REFBUILD/build" -G Ninja -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$REFBUILD/build" --target updraft >/dev/null
  echo "$REFREV" > "$REFBUILD/rev"
fi
UPD=$BUILD/src/cli/updraft
UPD_REF=$REFBUILD/build/src/cli/updraft
MK=$BUILD/tests/cli/mkimage
ulimit -n "$(ulimit -Hn)"
TMP=$(mktemp -d)
SRV_PID=
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
TOKEN=bench-sim-token-0123456789
"$MK" esp8266-app "$TMP/app.bin" "$CODE" 7
SIZE=$(stat -c %s "$TMP/app.bin")
TCK=$(getconf CLK_TCK)

# run SIM NAME FAULTS: a fresh server (always the current build), the release, the fleet
# simulated by SIM. Sets JSON, RC, CPU (the simulator's user+sys seconds), SRV_CPU (the
# server's) and HWM (the server's peak RSS, KB).
run() {
  local sim=$1 name=$2 faults=$3 port out
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
  local srv0
  srv0=$(awk '{print $14 + $15}' "/proc/$SRV_PID/stat")
  local args=(sim --server "http://127.0.0.1:$port/update" --devices "$N" --seed 1 --json --quiet)
  [ -n "$faults" ] && args+=(--faults "$faults")
  echo "== $name: $sim ${args[*]}" >&2
  # exit status 0 only when every device converged and none was bricked by the client
  # (docs/sim.md): the goal is met only then, whatever the time
  RC=0
  out=$(/usr/bin/time -f '%U %S' -o "$TMP/time" "$sim" "${args[@]}") || RC=$?
  if [ "$RC" -ne 0 ] && [ "$RC" -ne 1 ]; then
    echo "bench/sim: updraft sim failed with exit status $RC" >&2
    exit 1
  fi
  JSON=$(printf '%s\n' "$out" | tail -1)
  CPU=$(awk '{printf "%.2f", $1 + $2}' "$TMP/time")
  SRV_CPU=$(awk -v a="$srv0" -v t="$TCK" '{printf "%.2f", ($14 + $15 - a) / t}' "/proc/$SRV_PID/stat")
  HWM=$(awk '/VmHWM/ {print $2}' "/proc/$SRV_PID/status")
  kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  echo "$JSON" >&2
  echo "sim CPU ${CPU} s, server CPU ${SRV_CPU} s" >&2
}

# row NAME FAULTS: one line of the scenario table from the last run
ROWS=
row() {
  ROWS+=$(python3 - "$1" "$2" "$HWM" "$JSON" "$RC" "$CPU" <<'PY'
import json, sys
name, faults, hwm, j = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
rc, cpu = int(sys.argv[5]), float(sys.argv[6])
failed = sum(j["failed"].values())
if rc != 0:
    goal = "MISSED: %d of %d devices neither updated nor current, %d bricked by the client " \
        "(sim exit %d)" % (j["devices"] - j["updated"] - j["current"], j["devices"],
                           j["bricked_client"], rc)
elif j["seconds"] >= 300:
    goal = "MISSED: over 5 minutes"
else:
    goal = "met"
print("| %s | `%s` | %d | %d | %d | %d | %d / %d | %d | %.1f | %.2f | %.3f | %.2f | %d | %d | %s |" % (
    name, faults or "none", j["devices"], j["updated"], j["current"], failed,
    j["bricked_client"], j["bricked_bootloader"], j["retries"], j["seconds"], cpu,
    cpu * 1000 / j["devices"], j["bytes"] / 1e9, j["peak_rss_kb"] // 1024, hwm // 1024, goal))
PY
)$'\n'
}

# The clean fleet, ROUNDS times each build, in alternation (the order swapped every
# round): the simulator's CPU, and the server's beside it.
REF_CPU=() CUR_CPU=() REF_SRV=() CUR_SRV=() REF_WALL=() CUR_WALL=()
wall() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$JSON"; }
for r in $(seq "$ROUNDS"); do
  order=(ref cur)
  [ $((r % 2)) -eq 0 ] && order=(cur ref)
  for b in "${order[@]}"; do
    if [ "$b" = ref ]; then
      run "$UPD_REF" "clean (reference $REFREV, round $r)" ""
      REF_CPU+=("$CPU"); REF_SRV+=("$SRV_CPU"); REF_WALL+=("$(wall)")
    else
      run "$UPD" "clean (round $r)" ""
      CUR_CPU+=("$CPU"); CUR_SRV+=("$SRV_CPU"); CUR_WALL+=("$(wall)")
      [ "$r" -eq "$ROUNDS" ] && row clean ""
    fi
  done
done
run "$UPD" faults "drop=0.02,truncate=0.02,corrupt=0.02,powercut=0.05,weakwrite=0.02"
row faults "drop=0.02,truncate=0.02,corrupt=0.02,powercut=0.05,weakwrite=0.02"

CPU_TABLE=$(python3 - "$N" "$REFREV" "${REF_CPU[*]}" "${CUR_CPU[*]}" "${REF_SRV[*]}" \
  "${CUR_SRV[*]}" "${REF_WALL[*]}" "${CUR_WALL[*]}" <<'PY'
import statistics, sys
n, ref = int(sys.argv[1]), sys.argv[2]
rc, cc, rs, cs, rw, cw = ([float(x) for x in a.split()] for a in sys.argv[3:9])
med = statistics.median
def line(name, cpu, srv, w):
    return "| %s | %s | %.2f | **%.3f** | %.2f | %.1f |" % (
        name, ", ".join("%.2f" % x for x in cpu), med(cpu), med(cpu) * 1000 / n, med(srv), med(w))
print(line("reference (%s)" % ref, rc, rs, rw))
print(line("this build", cc, cs, cw))
print()
print("Simulator CPU per device, this build / reference: **%.2fx** (medians; %.1f times less)."
      % (med(cc) / med(rc), med(rc) / med(cc)))
PY
)

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
# before the results file is truncated below (that alone would make the tree dirty)
DESCRIBE=$(git describe --always --dirty)
cat > bench/results/sim.md <<MD
# Fleet simulation benchmark

Written by \`bench/sim/run.sh\` (do not edit by hand: run the script again).

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| machine | $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr) |
| load average after | $LOAD (other jobs share the machine) |
| updraft | $DESCRIBE, clang release build, server and simulator on the same CPUs |
| reference | the simulator of $REFREV (same flags), against the same server build |
| release | synthetic ESP8266 Arduino app (\`mkimage esp8266-app\`), $SIZE bytes |
| devices | $N ESP8266 (layout esp8266-4m1m), each the real update engine (all features: resume, SHA-256, inspector) on sparse simulated flash, 256 connections at once, one epoll loop |

Full cycle per device: check (200 + image), download and write to the staging area,
verify (MD5, SHA-256, the core's inspector), eboot command, reboot (eboot copies the
image to 0, the boot check inspects it), check again (304). Goal: under 5 minutes, with
every device converged (updated or current) and none bricked by the client: the
simulator's exit status says so, and a run where it is not 0 misses the goal.

## What a simulated device costs

The clean fleet, $ROUNDS runs of each simulator in alternation (each with a fresh server);
CPU is user + sys of the \`updraft sim\` process (GNU time), the server's from
/proc/PID/stat. The machine is shared: single runs vary, compare the medians.

| simulator | sim CPU s per run | median s | ms per device | server CPU s (median) | wall s (median) |
|---|---|---:|---:|---:|---:|
$CPU_TABLE

## Scenarios (this build)

| scenario | faults | devices | updated | current | failed | bricked client / boot loader | retries | wall s | sim CPU s | ms per device | GB sent | sim peak RSS MB | server peak RSS MB | goal < 5 min |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
$ROWS
"clean" is the last of the rounds above. "GB sent" counts the bytes the devices took.
Server RSS is VmHWM of \`updraft serve\` (fresh data dir per run); sim RSS is the
simulator's peak (sector pages are shared between devices with identical flash, see
docs/sim.md).
MD
cat bench/results/sim.md
