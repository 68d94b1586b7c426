#!/usr/bin/env bash
# The lx106 code size of the device engine, and what each compile-time feature costs:
# the numbers of docs/client.md "Size on the ESP8266 CPU". Compiles client.c, stage.c
# and run.c as one unit, as src/client/CMakeLists.txt builds libupdraft-client.a, with
# Debian's xtensa-lx106-elf-gcc (package gcc-xtensa-lx106, picolibc-xtensa-lx106-elf).
#
#   tools/client-size.sh          # default build, each feature's cost, plain -Os
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CC=xtensa-lx106-elf-gcc
SPECS=/usr/lib/xtensa-lx106-elf/picolibc.specs
command -v "$CC" >/dev/null || { echo "client-size: $CC missing (apt-get install gcc-xtensa-lx106 picolibc-xtensa-lx106-elf)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf '#include "client.c"\n#include "stage.c"\n#include "run.c"\n' >"$TMP/engine.c"
# The engine's flags (src/client/CMakeLists.txt, lx106)
ENGINE_FLAGS="-mno-target-align -fno-thread-jumps -fno-move-loop-invariants"

size_of() { # extra flags... -> .text of the engine in bytes
    "$CC" --specs="$SPECS" -std=c11 -Os -mlongcalls -Wall -Wextra -Werror "$@" \
        -I"$ROOT/include" -I"$ROOT/src/client" -c "$TMP/engine.c" -o "$TMP/engine.o"
    xtensa-lx106-elf-size "$TMP/engine.o" | awk 'NR == 2 {print $1}'
}

# shellcheck disable=SC2086
base=$(size_of $ENGINE_FLAGS)
echo "default build (-Os -mlongcalls $ENGINE_FLAGS): $base bytes"
# shellcheck disable=SC2086
echo "default build, plain -Os -mlongcalls:          $(size_of) bytes"
echo "features on by default (cost = default - default without it):"
for f in RESUME REPORT SHA256 ROLLBACK VERSION; do
    # shellcheck disable=SC2086
    printf '  %-9s %5d bytes\n' "$f" $((base - $(size_of $ENGINE_FLAGS -DUPD_CLIENT_WITH_$f=0)))
done
echo "features off by default (cost = default with it - default):"
for f in SIGN INSPECT; do
    # shellcheck disable=SC2086
    printf '  %-9s %5d bytes\n' "$f" $(($(size_of $ENGINE_FLAGS -DUPD_CLIENT_WITH_$f=1) - base))
done
# What UPD_CLIENT_WITH_INSPECT also brings into a firmware: the core's inspector (the
# image readers and the text formatting they use), compiled as the core is.
insp=0
for f in image.c image_esp.c image_other.c strbuf.c; do
    "$CC" --specs="$SPECS" -std=c11 -Os -mlongcalls -ffunction-sections -I"$ROOT/include" \
        -I"$ROOT/src/core" -c "$ROOT/src/core/$f" -o "$TMP/core.o"
    insp=$((insp + $(xtensa-lx106-elf-size "$TMP/core.o" | awk 'NR == 2 {print $1}')))
done
echo "  (INSPECT also links the core's inspector: $insp bytes)"
min="-DUPD_CLIENT_WITH_RESUME=0 -DUPD_CLIENT_WITH_REPORT=0 -DUPD_CLIENT_WITH_SHA256=0"
min="$min -DUPD_CLIENT_WITH_ROLLBACK=0 -DUPD_CLIENT_WITH_VERSION=0"
# shellcheck disable=SC2086
echo "minimal parity build (every feature off):      $(size_of $ENGINE_FLAGS $min) bytes"
