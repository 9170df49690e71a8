#!/usr/bin/env bash
# linux_init.sh [--shell] AMALGAM GUEST_KIT_SCRIPT [amalgam run options...]
#
# Boots Debian's unmodified kernel (scripts/guest-kit.sh) to the kit's /init
# with `console=ttyS0` alone on its command line, and checks, from the
# kernel's log and the kit's output on the UART:
#   - the banner, "smpboot: Allowing N CPUs", "Total of N processors
#     activated", and the switch to the kvm-clock (or tsc) clocksource;
#   - that printk timestamps advance, and no "WARNING:", "BUG:" or
#     "calibration failed" anywhere (but for one advisory line, below);
#   - /init: nproc=N, one NUMA node per --numa (default: per --nodes), the
#     job pinned to each CPU reporting from that CPU;
#   - poweroff, and amalgam ending with status 0.
# --shell: the command line also has amalgam.shell; the test types a command
# on amalgam's stdin, reads its answer, then types `reboot -f`, which must
# end amalgam with status 3 (README, Exit status).
# amalgam's --stats counters are printed at the end (the figures the docs
# quote for where boot time goes).
set -uo pipefail
shell=0
[[ ${1:-} == --shell ]] && { shell=1; shift; }
amalgam=$1
kit_script=$2
shift 2
run_options=("$@")
scale=${AMALGAM_TIME_SCALE:-1}
limit=${AMALGAM_LINUX_LIMIT:-$((60 * scale < 240 ? 240 : 60 * scale))}

say() { echo "linux_init: $*"; }
fail() {
  say "FAIL: $*"
  [[ -s ${work:-/nonexistent}/stderr ]] && { say "amalgam's stderr:"; cat "$work/stderr"; }
  exit 1
}

kit=$("$kit_script") || fail "the guest kit could not be prepared ($kit_script)"
vcpus=1 nodes=1 numa=0
for ((i = 0; i < ${#run_options[@]}; i++)); do
  case ${run_options[i]} in
    --vcpus) vcpus=${run_options[i + 1]} ;;
    --nodes) nodes=${run_options[i + 1]} ;;
    --numa) numa=${run_options[i + 1]} ;;
  esac
done
((numa > 0)) || numa=$nodes
want_nodes=$(seq -f 'node%g' 0 $((numa - 1)) | tr '\n' ' ')
want_nodes=${want_nodes% }

cmdline="console=ttyS0"
((shell)) && cmdline+=" amalgam.shell"
work=$(mktemp -d)
trap 'kill -TERM "$pid" 2>/dev/null; exec 4>&- 2>/dev/null; rm -rf "$work"' EXIT
mkfifo "$work/uart" "$work/stdin"
cmd=("$amalgam" run --kernel "$kit/vmlinuz" --initrd "$kit/initramfs.cpio" --cmdline "$cmdline"
     --timeout "$limit" --stats "${run_options[@]}")
say "${cmd[*]}"
"${cmd[@]}" <"$work/stdin" >"$work/uart" 2>"$work/stderr" &
pid=$!
exec 4>"$work/stdin" 3<"$work/uart"
started=$SECONDS

seen_banner=0 seen_allowing=0 seen_total=0 seen_clock=0 seen_nproc=0 seen_nodes=0 seen_poweroff=0
seen_shell=0 seen_answer=0 first_ts="" last_ts="" bad=()
declare -A job_cpu=()
while :; do
  left=$((limit + 30 - (SECONDS - started)))
  ((left > 0)) || fail "the guest did not power off within $((limit + 30)) s"
  if ! IFS= read -r -t "$left" raw <&3; then
    [[ -n ${raw:-} ]] || break
  fi
  line=${raw%$'\r'}
  echo "$line"
  if [[ $line =~ ^\[\ *([0-9]+\.[0-9]+)\]\ (.*)$ ]]; then
    ts=${BASH_REMATCH[1]} msg=${BASH_REMATCH[2]}
    [[ -n $first_ts ]] || first_ts=$ts
    last_ts=$ts
  else
    msg=$line
  fi
  case $msg in
    "Linux version "*) seen_banner=1 ;;
    "smpboot: Allowing $vcpus CPUs, 0 hotplug CPUs") seen_allowing=1 ;;
    "smpboot: Total of $vcpus processors activated"*) seen_total=1 ;;
    "clocksource: Switched to clocksource kvm-clock" | "clocksource: Switched to clocksource tsc") seen_clock=1 ;;
    "amalgam-kit: nproc=$vcpus") seen_nproc=1 ;;
    "amalgam-kit: numa_nodes=$want_nodes") seen_nodes=1 ;;
    "amalgam-kit: job "*" done on cpu "*)
      read -r _ _ job _ _ _ cpu <<<"$msg"
      job_cpu[$job]=$cpu ;;
    "amalgam-kit: shell"*)
      seen_shell=1
      echo 'echo "answer-$((6 * 7))"' >&4 ;;
    answer-42)
      seen_answer=1
      echo 'reboot -f' >&4 ;;
    "amalgam-kit: poweroff") seen_poweroff=1 ;;
  esac
  # (one WARNING: line is an advisory, not a kernel warning: Linux's notice
  # that the CPU model lacks the microcode for its Speculative Return Stack
  # Overflow mitigation, which the lab's emulated EPYC never has)
  if [[ $msg == *WARNING:* || $msg == *BUG:* || $msg == *"calibration failed"* ]] &&
     [[ $msg != "Speculative Return Stack Overflow: WARNING: See "* ]]; then
    bad+=("$line")
  fi
done
wait "$pid"
status=$?
say "amalgam's stderr:"
cat "$work/stderr"

((${#bad[@]} == 0)) || fail "the kernel's log has ${#bad[@]} bad lines, the first: ${bad[0]}"
((seen_banner)) || fail "no 'Linux version' banner"
((seen_allowing)) || fail "no 'smpboot: Allowing $vcpus CPUs, 0 hotplug CPUs'"
((seen_total)) || fail "no 'smpboot: Total of $vcpus processors activated'"
((seen_clock)) || fail "no 'clocksource: Switched to clocksource kvm-clock' (or tsc)"
[[ -n $last_ts ]] && awk -v a="$first_ts" -v b="$last_ts" 'BEGIN {exit !(b > a + 0.5)}' ||
  fail "printk timestamps do not advance (first ${first_ts:-none}, last ${last_ts:-none})"
if ((shell)); then
  ((seen_shell)) || fail "the kit did not start its shell"
  ((seen_answer)) || fail "the shell did not answer the typed command with answer-42"
  ((status == 3)) || fail "reboot -f typed in the shell, yet amalgam ended with status $status, not 3"
  say "ok: shell answered, reboot ended amalgam with status 3 ($((SECONDS - started)) s, last timestamp $last_ts s)"
  exit 0
fi
((seen_nproc)) || fail "the kit did not report nproc=$vcpus"
((seen_nodes)) || fail "the kit did not report numa_nodes=$want_nodes"
for ((c = 0; c < vcpus; c++)); do
  [[ ${job_cpu[$c]:-} == "$c" ]] || fail "the job pinned to CPU $c reported ${job_cpu[$c]:+from cpu }${job_cpu[$c]:-nothing}"
done
((seen_poweroff)) || fail "the kit did not reach poweroff"
((status == 0)) || fail "the guest powered off, yet amalgam ended with status $status"
say "ok: init on $vcpus CPUs, $numa NUMA nodes, powered off ($((SECONDS - started)) s, guest time $last_ts s)"
