#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the release binary (gcc) and the test
# configuration (clang with ASan+UBSan, the core tests cross-built for the ESP8266 CPU
# and run under QEMU, the libFuzzer target), then runs ctest. The last lines are
# ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
# a merge that left its conflict markers in a file (it happened once: install-deps.sh)
if git rev-parse --git-dir >/dev/null 2>&1 &&
  git grep -n -E '^(<<<<<<< |>>>>>>> )' -- . ':!*.md'; then
  echo "scripts/test.sh: merge conflict markers in the files above: resolve them" >&2
  exit 1
fi
scripts/install-deps.sh
# the browser tests' driver (tests/web: playwright-core, pinned by package-lock.json; no
# browser download, they use Debian's chromium); without it they report SKIPPED
if command -v npm >/dev/null 2>&1; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "scripts/test.sh: npm ci in tests/web failed: the browser tests will be skipped" >&2
fi
# the release build (gcc, what scripts/run.sh builds) must stay warning-free too
cmake --preset release >/dev/null
cmake --build --preset release
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug "$@"
