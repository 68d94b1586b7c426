#!/usr/bin/env bash
# The writer's batches of download records on SQLite, the store alone: CPU per transaction
# and per event (bench/server/batchcost.c says what it measures). Links batchcost.c with
# build/release's libraries (cmake --preset release && cmake --build --preset release).
#
# Usage: bench/server/batchcost.sh   Settings: EVENTS=20000 ROUNDS=3 KS="2 10 36 72 180 256"
# Prints the load before and after: the CPU times grow with it (caches shared with others).
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
# shellcheck disable=SC2086 # KS: one K a word
"$WORK/batchcost" "$WORK" "$EVENTS" "$ROUNDS" $KS
rc=$?
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
