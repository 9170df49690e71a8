#!/usr/bin/env bash
# scripts/lab.sh [OPTIONS] -- COMMAND ARGS...
#
# Runs COMMAND inside the lab: a QEMU virtual machine whose emulated CPU has
# AMD SVM, so that Debian's kernel in it offers /dev/kvm with guest ring 0
# run as on hardware, on any host (docs/lab.md). COMMAND runs in the current
# directory and sees the host's file system at the same paths (9p), with its
# own /tmp, /dev and /proc; stdin, stdout and stderr pass through, and the
# exit status is COMMAND's. Ctrl-C stops the lab.
#
# Options:
#   --smp N         the lab's CPUs (default: the host's, at most 8)
#   --memory SIZE   the lab's RAM, QEMU's syntax (default: what the host has
#                   available less 2 GiB, at most 32G; QEMU allocates it as used)
#   --npt           KVM in the lab uses the emulated CPU's nested paging
#                   (default: shadow paging, kvm-amd npt=0; docs/lab.md says why)
#   --tcg-threads single|multi
#                   one host thread for all lab CPUs, or one each (default
#                   single; docs/lab.md says why)
#   --hosts N       several lab hosts: not built yet (one host only)
#   --start-timeout S
#                   give up when COMMAND has not started after S s (default 300)
# Environment: AMALGAM_LAB_CACHE, the cache folder (scripts/lab/kit.sh).
# COMMAND gets AMALGAM_TIME_SCALE=10 (unless it is set): the test guests'
# limits on waiting for an interrupt or a CPU, written for a native host,
# stretch by that factor (tests/integration/expect_run.sh).
# Status: COMMAND's, or 2 with one line when the lab cannot start or stops
# before COMMAND ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "lab: $*" >&2; exit 2; }
usage() { fail "usage: scripts/lab.sh [--smp N] [--memory SIZE] [--npt] [--tcg-threads single|multi] -- COMMAND ARGS..."; }

host_cpus=$(nproc)
smp=$((host_cpus < 8 ? host_cpus : 8))
avail_mib=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
mem_mib=$((avail_mib - 2048))
((mem_mib <= 32768)) || mem_mib=32768
((mem_mib >= 2048)) || mem_mib=2048
memory=${mem_mib}M
npt=0
tcg_threads=single
start_timeout=300
while (($#)); do
  case $1 in
    --smp) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || fail "--smp ${2:-}: expected a number of CPUs"; smp=$2; shift 2 ;;
    --memory) [[ ${2:-} =~ ^[1-9][0-9]*[MG]?$ ]] || fail "--memory ${2:-}: expected a size such as 4096M or 8G"
              memory=$2; shift 2 ;;
    --npt) npt=1; shift ;;
    --tcg-threads) [[ ${2:-} == single || ${2:-} == multi ]] || fail "--tcg-threads ${2:-}: expected single or multi"
                   tcg_threads=$2; shift 2 ;;
    --hosts) [[ ${2:-} == 1 ]] || fail "--hosts ${2:-}: only one lab host is built yet"; shift 2 ;;
    --start-timeout) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || fail "--start-timeout ${2:-}: expected seconds"
                     start_timeout=$2; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
(($#)) || usage

command -v qemu-system-x86_64 >/dev/null ||
  fail "qemu-system-x86_64 not found: install the Debian package qemu-system-x86 (scripts/install-deps.sh does)"
command -v cpio >/dev/null || fail "cpio not found: install the Debian package cpio (scripts/install-deps.sh does)"
cache=$("$here/lab/kit.sh") || exit 2

# The run folder: on the host's file system, so the lab sees it at the same
# path; it carries run.sh in, and the status and the lab's console out.
mkdir -p "$cache/runs"
run=$(mktemp -d "$cache/runs/run.XXXXXX")
qemu_pid=
relays=()
cleanup() {
  set +e
  [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null
  ((${#relays[@]})) && kill "${relays[@]}" 2>/dev/null
  # The last run's console stays for a look after a failure.
  [[ -f $run/console.log ]] && mv -f "$run/console.log" "$cache/last-console.log"
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# run.sh: COMMAND with this shell's exported environment, in this folder.
{
  echo "# made by scripts/lab.sh"
  export -p | grep -v -E '^declare -x (OLDPWD|PWD|SHLVL|_)(=|$)'
  echo "export AMALGAM_TIME_SCALE=${AMALGAM_TIME_SCALE:-10}"
  printf 'cd -- %q || exit 2\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$run/run.sh"

# stdin, stdout and stderr go through FIFOs and relays here, whatever they
# are (terminal, pipe, file, socket). QEMU reads stdin on its own stdin
# (its stdio character device, which passes on the end of input), and
# writes stdout and stderr to FIFOs. This shell holds each output FIFO open
# too, so that a relay never waits for a QEMU that failed before opening
# it; closing them after QEMU has gone ends the relays.
mkfifo "$run/stdin" "$run/stdout" "$run/stderr"
exec {hold_out}<>"$run/stdout" {hold_err}<>"$run/stderr"
cat "$run/stdout" {hold_out}>&- {hold_err}>&- &
relays+=($!)
cat "$run/stderr" >&2 {hold_out}>&- {hold_err}>&- &
relays+=($!)
out_relays=("${relays[@]}")
# (a command started with & in a script reads /dev/null unless told)
cat <&0 >"$run/stdin" {hold_out}>&- {hold_err}>&- &
relays+=($!)

# The emulated CPU: an EPYC with SVM, less what TCG cannot emulate (QEMU
# warns about each otherwise).
cpu=EPYC,+svm,-rdseed,-sha-ni,-fxsr-opt,-misalignsse,-3dnowprefetch,-osvw,-topoext,-nrip-save,-xsavec,-xsave,-xsaveopt,-xgetbv1,-avx,-avx2,-fma,-f16c
qemu-system-x86_64 \
  -accel "tcg,thread=$tcg_threads" -cpu "$cpu" -smp "$smp" -m "$memory" \
  -nodefaults -no-user-config -display none -monitor none -no-reboot \
  -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.cpio" \
  -append "console=ttyS0 quiet panic=-1 tsc=reliable lab.run=$run lab.npt=$npt" \
  -serial "file:$run/console.log" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,multidevs=remap" \
  -device virtio-serial-pci \
  -chardev stdio,id=stdin,signal=on -device virtserialport,chardev=stdin,name=lab.stdin \
  -chardev "file,id=stdout,path=$run/stdout" -device virtserialport,chardev=stdout,name=lab.stdout \
  -chardev "file,id=stderr,path=$run/stderr" -device virtserialport,chardev=stderr,name=lab.stderr \
  <"$run/stdin" >/dev/null 2>"$run/qemu.err" {hold_out}>&- {hold_err}>&- &
qemu_pid=$!

# Until COMMAND starts, the lab may fail or hang while booting: watch it.
waited=0
while [[ ! -e $run/started ]] && kill -0 "$qemu_pid" 2>/dev/null; do
  if ((waited >= start_timeout * 10)); then
    fail "the lab did not start COMMAND within ${start_timeout} s (its console: $cache/last-console.log)"
  fi
  sleep 0.1
  waited=$((waited + 1))
done
# While it runs, its kernel's health: a CPU that stops answering shows as
# an RCU stall or a soft lockup on the console, which a wedged lab repeats
# every minute or so without end. The second such report ends the lab,
# with the first one quoted, rather than leave COMMAND hanging.
stalled=
while kill -0 "$qemu_pid" 2>/dev/null; do
  if (($(grep -a -c -E 'rcu: INFO: .* detected stalls|watchdog: BUG: soft lockup' "$run/console.log" 2>/dev/null) >= 2)); then
    stalled=$(grep -a -m1 -E 'rcu: INFO: .* detected stalls|watchdog: BUG: soft lockup' "$run/console.log")
    kill "$qemu_pid" 2>/dev/null
    break
  fi
  sleep 0.5
done
qemu_status=0
wait "$qemu_pid" || qemu_status=$?
qemu_pid=
exec {hold_out}>&- {hold_err}>&-
wait "${out_relays[@]}" 2>/dev/null || true

if [[ -n $stalled ]]; then
  fail "the lab's kernel stalled while COMMAND ran, and was stopped: ${stalled#*] } (its console: $cache/last-console.log)"
fi
if [[ -s $run/status ]]; then
  exit "$(cat "$run/status")"
fi
reason=$(grep -a -m1 -o 'lab-init: FAILED: .*' "$run/console.log" 2>/dev/null | sed 's/^lab-init: FAILED: //' || true)
[[ -n $reason ]] || reason=$(grep -a -m1 -o -E 'Kernel panic.*|BUG: .*' "$run/console.log" 2>/dev/null || true)
[[ -n $reason ]] || reason=$(head -c 300 "$run/qemu.err" | tr '\n' ' ')
[[ -n $reason ]] || reason="QEMU exited with status $qemu_status"
fail "the lab stopped before COMMAND ended: $reason (its console: $cache/last-console.log)"
