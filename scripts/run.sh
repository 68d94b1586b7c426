#!/usr/bin/env bash
# Builds updraft (release) after installing what is missing, then runs it. With no
# arguments it inspects the firmware corpus beside the repository if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
bin=build/release/src/cli/updraft
if [ $# -gt 0 ]; then
  exec "$bin" "$@"
fi
if [ -d ../shared/testdata/firmware ]; then
  "$bin" inspect ../shared/testdata/firmware/*.bin ../shared/testdata/firmware/*.gz || true
else
  exec "$bin" --help
fi
