#!/usr/bin/env bash
# linux-full-boot.sh [AMALGAM]
#
# The whole Linux boot, to the busybox init of the guest kit and its clean
# poweroff, on 1 and on 2 node processes with 4 vCPUs: checks that the guest
# sees nproc=4 and two NUMA nodes, and that amalgam ends with status 0.
#
# It needs hardware virtualization (VT-x or AMD-V under /dev/kvm). Where guest
# ring 0 is emulated instruction by instruction (PLATFORM.md: nested KVM
# without VT-x/AMD-V, module kvm_pvm), the kernel cannot finish booting, so the
# script says why and exits 77 (skipped) without running anything; set
# AMALGAM_FULL_BOOT_FORCE=1 to try anyway.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
amalgam=${1:-$here/build/amalgam}
limit=${AMALGAM_FULL_BOOT_LIMIT:-300}

say() { echo "linux-full-boot: $*"; }

# Why guest ring 0 would not run natively here; empty when it should.
why_emulated() {
  [[ -e /dev/kvm ]] || { echo "no /dev/kvm"; return; }
  if [[ -d /sys/module/kvm_pvm ]]; then
    echo "KVM here is kvm_pvm (nested, no VT-x/AMD-V): guest ring 0 is emulated"
    return
  fi
  if ! grep -qw -E 'vmx|svm' /proc/cpuinfo; then
    echo "the CPU shows neither vmx nor svm: no hardware virtualization under /dev/kvm"
    return
  fi
  [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]] ||
    echo "neither kvm_intel nor kvm_amd is loaded"
}

reason=$(why_emulated)
if [[ -n $reason && ${AMALGAM_FULL_BOOT_FORCE:-0} != 1 ]]; then
  say "SKIP: $reason; the full boot needs hardware virtualization (AMALGAM_FULL_BOOT_FORCE=1 tries anyway)"
  exit 77
fi
[[ -x $amalgam ]] || { say "no amalgam at $amalgam (build first)"; exit 2; }
kit=$("$here/scripts/guest-kit.sh") || { say "FAIL: the guest kit could not be prepared"; exit 1; }

failed=0
for nodes in 1 2; do
  out=$(mktemp)
  args=(run --kernel "$kit/vmlinuz" --initrd "$kit/initramfs.cpio" --cmdline "$(cat "$kit/cmdline")"
        --cpu baseline --vcpus 4 --numa 2 --memory 1G --nodes "$nodes" --timeout "$limit")
  say "amalgam ${args[*]}"
  start=$SECONDS
  "$amalgam" "${args[@]}" </dev/null >"$out" 2>&1
  status=$?
  grep -a 'amalgam-kit:' "$out"
  problems=()
  ((status == 0)) || problems+=("amalgam ended with status $status, not 0: $(tail -1 "$out")")
  grep -aq 'amalgam-kit: nproc=4' "$out" || problems+=("nproc is not 4")
  grep -aq 'amalgam-kit: numa_nodes=node0 node1$' "$out" ||
    grep -aq $'amalgam-kit: numa_nodes=node0 node1\r' "$out" || problems+=("not two NUMA nodes")
  grep -aq 'amalgam-kit: poweroff' "$out" || problems+=("init did not reach poweroff")
  if ((${#problems[@]})); then
    say "FAIL on $nodes node(s) after $((SECONDS - start)) s: ${problems[*]}"
    tail -40 "$out"
    failed=1
  else
    say "ok on $nodes node(s): booted to init and powered off in $((SECONDS - start)) s"
  fi
  rm -f "$out"
done
exit $failed
