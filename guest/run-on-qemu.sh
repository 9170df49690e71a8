#!/usr/bin/env bash
# Runs a test guest on QEMU with KVM, the reference VMM for the guest
# contract (guest/README.md).
#
#   guest/run-on-qemu.sh NAME [SMP] [APPEND]
#
# NAME is a guest (build/guest/NAME.elf, or a path to an ELF), SMP the CPU
# count (default 1), APPEND the guest command line ("key=value ..."). The
# guest's exit status comes back as ours: 0 = PASS. Environment: BUILD_DIR
# (default build), QEMU_TIMEOUT in seconds (default 300), QEMU_MEM (256M).
set -euo pipefail
if (($# < 1)); then
  sed -n '5,10p' "$0" >&2
  exit 64
fi
here=$(cd "$(dirname "$0")/.." && pwd)
elf=$1
[[ -f $elf ]] || elf=${BUILD_DIR:-$here/build}/guest/$1.elf
[[ -f $elf ]] || { echo "run-on-qemu: no $elf (build with: ninja -C build guests)" >&2; exit 66; }
smp=${2:-1}
append=${3:-}

set +e
timeout --foreground -k 5 "${QEMU_TIMEOUT:-300}" \
  qemu-system-x86_64 -enable-kvm -cpu "${QEMU_CPU:-host,-arch-capabilities}" -smp "$smp" -m "${QEMU_MEM:-256M}" \
    -nographic -no-reboot -nodefaults -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -kernel "$elf" -append "$append"
rc=$?
set -e
# isa-debug-exit makes QEMU exit with (value << 1) | 1.
if ((rc == 124)); then
  echo "run-on-qemu: timed out after ${QEMU_TIMEOUT:-300} s" >&2
  exit 124
elif ((rc % 2 == 1)); then
  exit $(((rc - 1) / 2))
fi
echo "run-on-qemu: QEMU exited with $rc without a guest verdict" >&2
exit 125
