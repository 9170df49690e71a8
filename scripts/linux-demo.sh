#!/usr/bin/env bash
# Boots Debian's own kernel with the guest kit's busybox initramfs
# (scripts/guest-kit.sh) on amalgam, `console=ttyS0` alone on its command
# line, the UART as the console and stdin as its input: the kit's /init
# reports what the guest sees, runs a job on every CPU and powers off. Any
# arguments replace the default machine options (4 vCPUs, two NUMA nodes,
# 512 MiB); add `--cmdline-extra amalgam.shell` to stop in a busybox shell
# before the job. Where this host's KVM does not run guest ring 0
# as hardware would (none, or nested without VT-x/AMD-V: docs/lab.md), it
# runs inside the lab (scripts/lab.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/host-kvm.sh
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target amalgam
kit=$(scripts/guest-kit.sh)
cmdline="console=ttyS0"
if [[ ${1:-} == --cmdline-extra ]]; then
  cmdline="$cmdline $2"
  shift 2
fi
(($#)) || set -- --vcpus 4 --numa 2 --memory 512M
run=(build/amalgam run --kernel "$kit/vmlinuz" --initrd "$kit/initramfs.cpio" --cmdline "$cmdline" "$@")
reason=$(why_ring0_emulated)
[[ -z $reason ]] && exec "${run[@]}"
echo "linux-demo: $reason; running amalgam inside the lab (scripts/lab.sh)" >&2
exec scripts/lab.sh -- "${run[@]}"
