#!/bin/sh
# Runs one lx106 test image under QEMU; exits with the test's own status (main's
# return value, or 64+EXCCAUSE / 120 / 121 after a fault, 124 on timeout). Arguments after
# the ELF go to QEMU (e.g. -icount shift=4: CCOUNT counts instructions, tests/crypto).
#   tests/lx106/run-qemu.sh build/h/lx106/tests/test_error.elf [QEMU-ARGS...]
# See docs/lx106.md.
set -u
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 TEST.elf [QEMU-ARGS...] (file not found: ${1:-none})" >&2
    exit 2
fi
elf=$1
shift
timeout 60 qemu-system-xtensa -M sim -cpu lx106 -semihosting -display none -monitor none \
    -serial none -device loader,file="$elf",cpu-num=0 "$@"
status=$?
if [ "$status" -eq 124 ]; then
    echo "run-qemu.sh: $elf did not finish within 60 s" >&2
fi
exit "$status"
