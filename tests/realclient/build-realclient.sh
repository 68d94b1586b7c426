#!/usr/bin/env bash
# Builds the real ESP8266 Arduino core OTA client (../shared/realclient, see its README)
# into the build tree, once: a later call with the same inputs (the core source tarball,
# the harness files, our own sketches) does nothing. Concurrent calls for the same
# OUTDIR wait for each other (flock).
#
#   usage: build-realclient.sh REALCLIENT_DIR OUTDIR [SKETCH_DIR...]
#
# Exit 77 (ctest SKIP_RETURN_CODE) with a message when REALCLIENT_DIR is absent, as on a
# clone without ../shared beside it: nothing to build, the suite is skipped.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 REALCLIENT_DIR OUTDIR [SKETCH_DIR...]" >&2
  exit 2
fi
src="$1"
out="$2"
shift 2
if [ ! -f "$src/build.sh" ] || [ ! -f "$src/esp8266-arduino-src.tar.xz" ]; then
  echo "SKIPPED: the real ESP8266 client harness is not at '$src' (it lives in" \
    "../shared/realclient beside the repository; configure with" \
    "-DUPD_REALCLIENT_DIR=/path/to/realclient to use another copy)"
  exit 77
fi
case "$out" in
  *" "*)
    echo "build-realclient.sh: the client's build folder '$out' contains a space, which the" \
      "core's Makefile cannot handle: configure with -DUPD_REALCLIENT_BUILD_DIR=/path/without/spaces" >&2
    exit 1
    ;;
esac
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

# Everything the binaries are made from; the sketch sources are hashed by content.
stamp="$( (sha256sum "$src/esp8266-arduino-src.tar.xz" "$src/build.sh" "$src/mock-patches.diff" \
  "$src/realclient.ino" "$src/run-esp8266-update.sh"
  for d in "$@"; do find "$d" -type f -print0 | sort -z | xargs -0 sha256sum; done) |
  sed 's/ .*//' | sha256sum | cut -c1-64)"
have=yes
for d in realclient "${@##*/}"; do
  [ -x "$out/bin/$d" ] || have=no
done
[ -x "$out/run-esp8266-update.sh" ] || have=no
if [ "$have" = yes ] && [ "$(cat "$out/.updraft-stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "realclient: up to date in $out"
  exit 0
fi
rm -f "$out/.updraft-stamp"
echo "realclient: building the real ESP8266 client in $out (about 2 minutes on 2 cores; log: $out/build.log)"
"$src/build.sh" "$src/esp8266-arduino-src.tar.xz" "$out" "$@"
echo "$stamp" >"$out/.updraft-stamp"
