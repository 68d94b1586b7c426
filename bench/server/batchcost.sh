#!/usr/bin/env bash
# The writer's batches of download records on SQLite, the store alone: CPU per transaction
# and per event (bench/server/batchcost.c says what it measures). Links batchcost.c with
# build/release's libraries (cmake --preset release && cmake --build --preset release).
#
# Usage: bench/server/batchcost.sh   Settings: EVENTS=20000 ROUNDS=3 KS="2 10 36 72 180 256"
# Prints the load before and after: the CPU times grow with it (caches shared with others).
# INSTR=1: one round under valgrind's callgrind instead, and for each case and K the
# user-space instructions per event of the measured batches (the kernel's share unseen,
# but the count does not move with the load: compare two builds with it).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$ROOT/build/release
EVENTS=${EVENTS:-20000}
ROUNDS=${ROUNDS:-3}
KS=${KS:-2 10 36 72 180 256}
for lib in src/server/libupdraft-server.a src/host/libupdraft-host.a src/core/libupdraft-core.a \
    ports/posix/libupdraft-port-posix.a; do
    [ -f "$B/$lib" ] || {
        echo "batchcost: $B/$lib missing: cmake --preset release && cmake --build --preset release" >&2
        exit 1
    }
done
WORK=$(mktemp -d /tmp/updraft-batchcost.XXXXXX) || exit 1
trap 'rm -rf "$WORK"' EXIT
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -O2 -Wall -I "$ROOT/src/server" -I "$ROOT/include" -o "$WORK/batchcost" \
    "$ROOT/bench/server/batchcost.c" -Wl,--start-group "$B/src/server/libupdraft-server.a" \
    "$B/src/host/libupdraft-host.a" "$B/src/core/libupdraft-core.a" \
    "$B/ports/posix/libupdraft-port-posix.a" -Wl,--end-group \
    $(pkg-config --libs libmicrohttpd sqlite3 libpq libcjson gnutls libsystemd zlib) \
    -lpthread -lm || {
    echo "batchcost: cannot compile batchcost.c" >&2
    exit 1
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); updraft $(git -C "$ROOT" rev-parse --short HEAD)"
if [ "${INSTR:-0}" = 1 ]; then
    command -v valgrind >/dev/null || {
        echo "batchcost: INSTR=1 needs valgrind (apt-get install valgrind)" >&2
        exit 1
    }
    # shellcheck disable=SC2086 # KS: one K a word
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$WORK/batchcost" "$WORK" \
        "$EVENTS" 1 $KS >/dev/null 2>"$WORK/valgrind.log" || {
        echo "batchcost: the run under callgrind failed:" >&2
        cat "$WORK/valgrind.log" >&2
        exit 1
    }
    # each dump: "desc: Trigger: Client Request: offer K=180 events=20160" and its totals
    for f in "$WORK"/cg.out.*; do
        awk '/^desc: Trigger: Client Request:/ { sub(/.*Client Request: /, ""); label = $0 }
             /^totals:/ { n = $2 }
             END { split(label, w, " "); sub(/events=/, "", w[3])
                   if (label != "" && w[3] > 0)
                       printf "%-5s %-6s instructions per event %8.0f\n", w[1], w[2], n / w[3] }' "$f"
    done | sort -t= -k1,1 -k2n
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
    exit 0
fi
# shellcheck disable=SC2086 # KS: one K a word
"$WORK/batchcost" "$WORK" "$EVENTS" "$ROUNDS" $KS
rc=$?
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
