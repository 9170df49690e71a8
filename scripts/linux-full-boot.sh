#!/usr/bin/env bash
# linux-full-boot.sh [AMALGAM]
#
# The whole Linux boot, to the busybox init of the guest kit and its clean
# poweroff, on 1 and on 2 node processes with 4 vCPUs: checks that the guest
# sees nproc=4 and two NUMA nodes, and that amalgam ends with status 0.
#
# It needs guest ring 0 run as on hardware (VT-x or AMD-V under /dev/kvm).
# Where this host has no KVM, or a nested one that emulates ring 0 (module
# kvm_pvm: docs/lab.md), the script runs itself inside the lab
# (scripts/lab.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/scripts/lib/host-kvm.sh"
amalgam=${1:-$here/build/amalgam}
limit=${AMALGAM_FULL_BOOT_LIMIT:-300}

say() { echo "linux-full-boot: $*"; }

[[ -x $amalgam ]] || { say "no amalgam at $amalgam (build first)"; exit 2; }
# (prepared here: the lab has no network to download it)
kit=$("$here/scripts/guest-kit.sh") || { say "FAIL: the guest kit could not be prepared"; exit 1; }
reason=$(why_ring0_emulated)
if [[ -n $reason ]]; then
  say "$reason; running inside the lab (scripts/lab.sh)"
  exec "$here/scripts/lab.sh" -- "$0" "$amalgam"
fi

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
