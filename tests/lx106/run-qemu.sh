#!/bin/sh
# Runs one lx106 test image under QEMU; exits with the test's own status (main's
# return value, or 64+EXCCAUSE / 120 / 121 after a fault, 124 on timeout).
#   tests/lx106/run-qemu.sh build/h/lx106/tests/test_error.elf
# See docs/lx106.md.
set -u
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 TEST.elf (file not found: ${1:-none})" >&2
    exit 2
fi
timeout 60 qemu-system-xtensa -M sim -cpu lx106 -semihosting -display none -monitor none \
    -serial none -device loader,file="$1",cpu-num=0
status=$?
if [ "$status" -eq 124 ]; then
    echo "run-qemu.sh: $1 did not finish within 60 s" >&2
fi
exit "$status"
