#!/usr/bin/env bash
# bad_inputs.sh AMALGAM GUEST_KIT_SCRIPT
#
# Kernel files amalgam must refuse with one line on stderr and status 2,
# made from the guest kit's kernel: a bzImage cut short, a bzImage whose XZ
# payload is corrupt, an ELF vmlinux cut short, and an initrd larger than
# guest RAM. Then the plain ELF vmlinux must boot as far as the kernel's
# banner (amalgam is stopped there).
set -uo pipefail
amalgam=$1
kit=$("$2") || { echo "bad_inputs: FAIL: the guest kit could not be prepared"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

expect_refusal() {  # WHAT REGEX AMALGAM-ARGS...
  local what=$1 regex=$2
  shift 2
  "$amalgam" run "$@" --timeout 30 </dev/null >"$work/out" 2>"$work/err"
  local status=$? lines
  lines=$(wc -l <"$work/err")
  if ((status == 2 && lines == 1)) && grep -Eq -- "$regex" "$work/err"; then
    echo "bad_inputs: ok: $what: $(cat "$work/err")"
  else
    echo "bad_inputs: FAIL: $what: status $status, $lines lines on stderr (want 2, one line matching /$regex/):"
    cat "$work/err"
    failed=1
  fi
}

size=$(stat -c %s "$kit/vmlinuz")
head -c $((size / 2)) "$kit/vmlinuz" >"$work/cut.bzimage"
expect_refusal "bzImage cut in half" "bzImage payload .* past the end of the file" --kernel "$work/cut.bzimage"

cp "$kit/vmlinuz" "$work/corrupt.bzimage"
# 4 KiB of zeros into the middle of the XZ payload.
dd if=/dev/zero of="$work/corrupt.bzimage" bs=4096 seek=$((size / 8192)) count=1 conv=notrunc status=none
expect_refusal "bzImage with a corrupt payload" "XZ payload is corrupt" --kernel "$work/corrupt.bzimage"

head -c 1000000 "$kit/vmlinux" >"$work/cut.vmlinux"
expect_refusal "ELF vmlinux cut short" "kernel .*cut.vmlinux: .*(past the end of the file|truncated)" \
  --kernel "$work/cut.vmlinux"

truncate -s 300M "$work/big.initrd"
expect_refusal "initrd larger than guest RAM" "initrd .* do not fit" --kernel "$kit/vmlinux" \
  --initrd "$work/big.initrd" --memory 256M

# The plain ELF boots: stop at the banner.
mkfifo "$work/uart"
"$amalgam" run --kernel "$kit/vmlinux" --initrd "$kit/initramfs.cpio" --cmdline "$(cat "$kit/cmdline")" \
  --cpu baseline --timeout 120 </dev/null >"$work/uart" 2>"$work/err" &
pid=$!
if timeout 120 grep -a -m1 "Linux version" "$work/uart"; then
  echo "bad_inputs: ok: the ELF vmlinux boots to the kernel's banner"
else
  echo "bad_inputs: FAIL: no banner from the ELF vmlinux"
  cat "$work/err"
  failed=1
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit $failed
