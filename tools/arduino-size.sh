#!/usr/bin/env bash
# What the updraft Arduino library costs an ESP8266 sketch, measured on the ESP8266's
# CPU: the numbers of docs/arduino.md "What it costs". Uses Debian's xtensa-lx106-elf-gcc
# (gcc-xtensa-lx106, picolibc-xtensa-lx106-elf) and the core's BearSSL from the
# realclient tarball (../shared/realclient/esp8266-arduino-src.tar.xz).
#
#   tools/arduino-size.sh [REALCLIENT_DIR]
#
# 1. The engine as the library builds it (src/updraft_engine of tools/arduino-lib.py, so
#    with upd_client_config.h: signatures on), with the Arduino core's C flags for
#    libraries (-Os -mlongcalls -mtext-section-literals -ffunction-sections
#    -fdata-sections -falign-functions=4), linked with --gc-sections from the functions
#    Updraft.cpp calls: the code and constants a sketch gets (flash).
# 2. BearSSL's SHA-256 (always referenced by the port) and its RSA PKCS#1 verifier (only
#    when the sketch calls setSigningKey), from the core's BearSSL sources, same flags.
#    A sketch that uses BearSSL::WiFiClientSecure links both already.
# 3. RAM: the engine's parts of an Updraft object (context, config, port, buffer, hash
#    states), sizeof on lx106.
# Not measured here: Updraft.cpp itself (C++; Debian's lx106 compiler has no C++ library
# headers, which the core's Arduino.h needs) and the WiFiClient objects inside Updraft.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RCDIR=${1:-$ROOT/../shared/realclient}
CC=xtensa-lx106-elf-gcc
SPECS=/usr/lib/xtensa-lx106-elf/picolibc.specs
command -v "$CC" >/dev/null || { echo "arduino-size: $CC missing (apt-get install gcc-xtensa-lx106 picolibc-xtensa-lx106-elf)" >&2; exit 1; }
[ -f "$RCDIR/esp8266-arduino-src.tar.xz" ] || { echo "arduino-size: no core tarball in $RCDIR (give the realclient folder as the argument)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FLAGS="-Os -mlongcalls -mtext-section-literals -ffunction-sections -fdata-sections -falign-functions=4"

python3 "$ROOT/tools/arduino-lib.py" --out "$TMP/lib" --tree >/dev/null
SRC="$TMP/lib/updraft/src"
mkdir -p "$TMP/eng" "$TMP/ssl"
for f in "$SRC"/updraft_engine/*.c; do
    "$CC" --specs="$SPECS" -std=gnu17 $FLAGS -I"$SRC" -c "$f" -o "$TMP/eng/$(basename "$f").o"
done

# linked size (.text incl. literals, .rodata, .data; .bss) of objects from the roots
linked() { # name objdir roots...
    local name=$1 dir=$2
    shift 2
    local u=()
    for s in "$@"; do u+=("-Wl,-u,$s"); done
    "$CC" --specs="$SPECS" -nostartfiles -nostdlib -Wl,--gc-sections -Wl,--entry=0 \
        -Wl,--unresolved-symbols=ignore-all "${u[@]}" -o "$TMP/$name.elf" "$dir"/*.o
    xtensa-lx106-elf-size -A "$TMP/$name.elf" | awk -v n="$name" '
        $1 ~ /^\.(text|literal|rodata|irom)/ {code += $2}
        $1 == ".data" {data += $2} $1 == ".bss" {bss += $2}
        END {printf "%-44s flash %6d bytes (code+constants %d, data %d), RAM %d bytes (data %d, bss %d)\n",
             n, code + data, code, data, data + bss, data, bss}'
}
ROOTS="upd_client_init upd_client_run upd_client_error upd_client_status upd_client_offered_version"
# shellcheck disable=SC2086
linked "engine (library build, signatures on)" "$TMP/eng" $ROOTS
# lastErrorString() (inline in Updraft.h) is what links the texts: upd_client_strerror,
# and through it the core's error table
# shellcheck disable=SC2086
linked "engine + error texts (lastErrorString)" "$TMP/eng" $ROOTS upd_client_strerror

# BearSSL from the core's tree
tar -xJf "$RCDIR/esp8266-arduino-src.tar.xz" -C "$TMP/ssl" Arduino/tools/sdk/ssl/bearssl/src Arduino/tools/sdk/ssl/bearssl/inc
B="$TMP/ssl/Arduino/tools/sdk/ssl/bearssl"
mkdir -p "$TMP/sha" "$TMP/rsa"
"$CC" --specs="$SPECS" -std=gnu17 $FLAGS -I"$B/inc" -I"$B/src" -c "$B/src/hash/sha2small.c" -o "$TMP/sha/sha2small.o"
for f in "$B"/src/rsa/*.c "$B"/src/int/*.c "$B"/src/codec/ccopy.c "$B"/src/codec/enc32be.c "$B"/src/codec/dec32be.c; do
    "$CC" --specs="$SPECS" -std=gnu17 $FLAGS -I"$B/inc" -I"$B/src" -c "$f" -o "$TMP/rsa/$(basename "$f").o" 2>/dev/null || true
done
linked "BearSSL SHA-256 (br_sha256_*)" "$TMP/sha" br_sha256_init br_sha256_update br_sha256_out
linked "BearSSL RSA verify (br_rsa_pkcs1_vrfy_get_default)" "$TMP/rsa" br_rsa_pkcs1_vrfy_get_default

# RAM: sizeof on lx106
cat >"$TMP/probe.c" <<'EOF'
#include "updraft/client.h"
#include "bearssl_hash.h"
char s_ctx[sizeof(upd_client_ctx)];
char s_cfg[sizeof(upd_client_config)];
char s_port[sizeof(upd_port)];
char s_sha[sizeof(br_sha256_context)];
EOF
"$CC" --specs="$SPECS" -std=gnu17 -I"$SRC" -I"$B/inc" -c "$TMP/probe.c" -o "$TMP/probe.o"
xtensa-lx106-elf-nm -S -t d "$TMP/probe.o" | awk '
    {size = $2 + 0; t += size; sub(/^s_/, "", $4); printf "  sizeof %-6s %4d bytes\n", $4, size}
    END {printf "  engine buffer 2048 bytes, ROM MD5 context 88 bytes\n  total in an Updraft object (without its WiFiClient objects): %d bytes\n", t + 2048 + 88}'
