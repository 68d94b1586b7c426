#!/usr/bin/env bash
# Builds the updraft Arduino library's examples on the esp8266/Arduino core's host
# emulation (../shared/realclient, see its README), as a user would: the library is
# assembled by tools/arduino-lib.py (the same files as in the zip), every example is a
# sketch of build.sh, and the test fixture emu/ adds what the emulation lacks (RTC
# memory, the eboot command, a flash that survives a reboot, power cuts).
#
#   usage: build-sketches.sh REALCLIENT_DIR OUTDIR
#
# Results: OUTDIR/bin/<Example> for each example, OUTDIR/lib/updraft (the library).
# Nothing to do when the inputs are unchanged (stamp). Exit 77 (ctest SKIP_RETURN_CODE)
# with a message when REALCLIENT_DIR is absent.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 REALCLIENT_DIR OUTDIR" >&2
  exit 2
fi
src="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ ! -f "$src/build.sh" ] || [ ! -f "$src/esp8266-arduino-src.tar.xz" ]; then
  echo "SKIPPED: the real ESP8266 core harness is not at '$src' (it lives in" \
    "../shared/realclient beside the repository; configure with" \
    "-DUPD_REALCLIENT_DIR=/path/to/realclient to use another copy)"
  exit 77
fi
case "$out" in
  *" "*)
    echo "build-sketches.sh: '$out' contains a space, which the core's Makefile cannot" \
      "handle: configure with -DUPD_ARDUINO_BUILD_DIR=/path/without/spaces" >&2
    exit 1
    ;;
esac
mkdir -p "$out"
out="$(cd "$out" && pwd)"
exec 9>"$out/.lock"
flock 9

python3 "$root/tools/arduino-lib.py" --out "$out/lib" --tree >/dev/null
lib="$out/lib/updraft"
sketches=()
for d in "$lib"/examples/*/ "$here"/sketches/*/; do
  sketches+=("${d%/}")
done

stamp="$( (sha256sum "$src/esp8266-arduino-src.tar.xz" "$src/build.sh" "$src/mock-patches.diff" "$0"
  find "$lib" "$here/emu" "$here/sketches" -type f -print0 | sort -z | xargs -0 sha256sum) |
  sed 's/ .*//' | sha256sum | cut -c1-64)"
have=yes
for d in "${sketches[@]}"; do
  [ -x "$out/bin/${d##*/}" ] || have=no
done
if [ "$have" = yes ] && [ "$(cat "$out/.updraft-stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "arduino examples: up to date in $out"
  exit 0
fi
rm -f "$out/.updraft-stamp"
echo "arduino examples: building ${#sketches[@]} sketches in $out (the first build takes" \
  "several minutes; log: $out/build.log)"
# The engine's C files are in a subfolder the core's Makefile does not compile by itself
# (the Arduino IDE compiles src/ recursively): USERCSOURCES names them. The wraps let
# emu/ see the eboot command and the flash calls (power cuts).
export RC_ULIBDIRS="$lib:$here/emu"
USERCSOURCES="$(ls "$lib"/src/updraft_engine/*.c | tr '\n' ' ')"
export USERCSOURCES
export USERCFLAGS="-include $here/emu/testenv.h"
export USERLDFLAGS="-Wl,--wrap=eboot_command_write -Wl,--wrap=_ZN8EspClass16flashEraseSectorEj -Wl,--wrap=_ZN8EspClass10flashWriteEjPKjm"
JOBS="${JOBS:-2}" "$src/build.sh" "$src/esp8266-arduino-src.tar.xz" "$out" "${sketches[@]}"
echo "$stamp" >"$out/.updraft-stamp"
