#!/usr/bin/env bash
# Runs every test guest on QEMU at 1, 2 and 4 CPUs (guest/run-on-qemu.sh) and
# prints one line per run; exits non-zero if any run did not pass.
#
#   guest/check-on-qemu.sh [GUEST...]       (default: all of them)
# Environment: CPUS (default "1 2 4"), LOG_DIR (default build/guest/logs),
# plus what run-on-qemu.sh reads.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build}
guests=("$@")
((${#guests[@]})) || guests=(smp counter ipi timer litmus memtouch)
logs=${LOG_DIR:-$build/guest/logs}
mkdir -p "$logs"
failed=0
for g in "${guests[@]}"; do
  for n in ${CPUS:-1 2 4}; do
    log=$logs/$g-smp$n.log
    start=$SECONDS
    "$here/run-on-qemu.sh" "$g" "$n" >"$log" 2>&1
    rc=$?
    verdict=$(grep -aE "^(PASS|FAIL) " "$log" | tail -1)
    printf '%-9s smp=%s rc=%-3s %3ss  %s\n' "$g" "$n" "$rc" $((SECONDS - start)) "${verdict:-no verdict, see $log}"
    ((rc == 0)) || failed=1
  done
done
exit $failed
