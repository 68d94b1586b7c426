#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the test configuration (clang with
# ASan+UBSan, the core tests cross-built for the ESP8266 CPU and run under QEMU, the
# libFuzzer target), then runs ctest. The last lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug "$@"
