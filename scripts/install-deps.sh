#!/usr/bin/env bash
# Installs the Debian 12 packages updraft needs to build and test, if any is missing.
# Run as root or with sudo available. Quiet when everything is there already.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  # host libraries: compression, crypto/TLS, HTTP, storage, JSON
  zlib1g-dev libgnutls28-dev libmicrohttpd-dev libsqlite3-dev libpq-dev libcjson-dev
  # PostgreSQL: the tests start a throwaway cluster of their own (tests/server/pgcluster.py)
  postgresql
  # systemd's service protocol (Type=notify, watchdog): src/server/sdnotify.c; the unit
  # in contrib/systemd is checked with systemd-analyze
  libsystemd-dev systemd
  # the ESP8266 CPU: cross compiler, C library, and QEMU to run tests on it
  gcc-xtensa-lx106 picolibc-xtensa-lx106-elf qemu-system-misc
  # time zone rules of rollout delivery windows (src/server/tzone.c reads its TZif files)
  tzdata
  # black-box tests (openssl makes the test certificates of the HTTPS tests)
  python3 openssl
  # /metrics is also read by the reference Prometheus parser (tests/server/test_service.py)
  python3-prometheus-client
  # the installed man page is read with man (tests/cli/test_install.py)
  man-db groff-base
  # the dashboard (web/): Chart.js is compiled into the binary from Debian's copy; the
  # browser tests (tests/web) drive Debian's chromium with playwright-core (npm ci in
  # scripts/test.sh), no browser download; npm comes with nodejs from NodeSource, Debian's
  # nodejs needs its npm package (added below only when no npm is there)
  libjs-chart.js chromium nodejs
  # the real ESP8266 client of ../shared/realclient, built from the core's source by the
  # tests (tests/realclient): host g++, make, patch, xz
  g++ make patch xz-utils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "updraft: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
