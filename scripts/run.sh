#!/usr/bin/env bash
# Builds updraft (release) after installing what is missing, then runs it: with no
# arguments the update server (`updraft serve`: 0.0.0.0:8080, state in ./updraft-data),
# with options only the server with those options (`--listen :8081` is
# `updraft serve --listen :8081`), otherwise `updraft` with the given arguments
# (e.g. `inspect firmware.bin`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
bin=build/release/src/cli/updraft
if [ $# -eq 0 ]; then
  exec "$bin" serve
fi
exec "$bin" "$@" # options without a command: the binary hands them to serve
