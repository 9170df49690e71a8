#!/usr/bin/env bash
# Runs every benchmark of Amalgam and prints one table; writes
# build/bench/results.json (and each run's raw output under
# build/bench/results/).
#
#   bench/run.sh [--repeats N] [--quick]
#
# --repeats N  runs of each guest benchmark and of the fault benchmark per
#              transport (default 5); figures are medians over them
# --quick      fewer pages, rounds and iterations (a smoke run, not figures)
#
# Installs the Debian packages only the benchmarks need (QEMU, ucx-utils,
# Google Benchmark, python3) when missing, builds what it runs into
# BUILD_DIR (default build), then runs:
#   1. bench_dsm_protocol (Google Benchmark): per-event cost of the protocol
#   2. amalgam-fault-bench: fault latency over UCX shm (receive threads that
#      sleep when idle, and that poll 200 us first) and tcp, with the raw
#      4 KiB round trip and the local floor measured in the same run
#   3. guests on amalgam, 1 node against 2 nodes (page throughput, NUMA-local
#      scaling with RAM allocated on first touch and with --preallocate, a
#      shared counter, IPI round trip) and on QEMU/KVM
#   4. Debian's kernel with the guest kit (scripts/guest-kit.sh) on 1, 2 and 3
#      nodes, 4 vCPUs, in the same round: boot time to /init and the kit's job
#      pinned to each CPU at once, both by the guest's own clock (kvmclock),
#      with amalgam's --stats counters
#   5. bench/report.py: medians, goals, table and JSON
# Needs root (userfaultfd, /dev/kvm, apt-get) like scripts/test.sh.
set -euo pipefail

repeats=5
quick=0
prefetch=16  # --prefetch of the runs that name it (page throughput, scaling)
while (($#)); do
  case $1 in
    --repeats) repeats=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    *) sed -n '6,11p' "$0" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
out=$build/bench/results
cd "$here"

packages=(qemu-system-x86 ucx-utils libbenchmark-dev python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
"$here/scripts/install-deps.sh"

[[ -f $build/build.ninja ]] || cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
cmake --build "$build" -j"$(nproc)" --target amalgam amalgam-fault-bench bench_dsm_protocol guests >&2

rm -rf "$out"
mkdir -p "$out"
amalgam=$build/bin/amalgam
[[ -x $amalgam ]] || amalgam=$build/amalgam
[[ -x $amalgam ]] || amalgam=$(find "$build" -name amalgam -type f -perm -u+x | head -1)

if ((quick)); then
  fault_args=(--pages 100 --rounds 3 --pings 500)
  proto_time=0.05
  mib=4 kib=512 passes=20 iterations=20000 ipi_rounds=50 linux_work=16
else
  fault_args=(--pages 500 --rounds 5 --pings 5000)
  proto_time=0.3
  mib=16 kib=2048 passes=100 iterations=200000 ipi_rounds=200 linux_work=256
fi
kit=$("$here/scripts/guest-kit.sh")

echo "bench: protocol micro-benchmark" >&2
"$build/bench/bench_dsm_protocol" --benchmark_min_time="$proto_time" --benchmark_out="$out/dsm_protocol.json" \
  --benchmark_out_format=json >"$out/dsm_protocol.txt" 2>&1

# One guest run: NAME is the file name of its output; the rest is the
# command. Records the wall time and the exit status in NAME.meta.
run_guest() {
  local name=$1
  shift
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  "$@" >"$out/$name.out" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  echo "rc=$rc wall_s=$(echo "$t1 - $t0" | bc -l 2>/dev/null || python3 -c "print($t1 - $t0)")" >"$out/$name.meta"
  ((rc == 0)) || echo "bench: $name exited with $rc (see $out/$name.out)" >&2
}

am() { "$amalgam" run --timeout 300 "$@"; }

for ((r = 1; r <= repeats; r++)); do
  echo "bench: round $r of $repeats" >&2
  # shmspin: fault threads that poll 50 us for their answer (--fault-spin 50);
  # shmpoll: that, and receive threads that poll 200 us before they sleep.
  for t in shm shmspin shmpoll tcp; do
    args=(--transport "${t:0:3}")
    [[ $t == shmspin ]] && args+=(--fault-spin-us 50)
    [[ $t == shmpoll ]] && args+=(--busy-poll-us 200 --fault-spin-us 50)
    "$build/bench/amalgam-fault-bench" "${args[@]}" "${fault_args[@]}" >"$out/fault_${t}_$r.json" \
      2>"$out/fault_${t}_$r.err" || echo "bench: fault bench $t failed (see $out/fault_${t}_$r.err)" >&2
  done
  # Each pair runs back to back, so that what else the machine does weighs on both alike.
  run_guest "seqread_1node_$r" am --vcpus 2 --guest memtouch --cmdline "mib=$mib"
  run_guest "seqread_2nodes_$r" am --nodes 2 --vcpus 2 --guest memtouch --cmdline "mib=$mib"
  run_guest "seqread_2nodes_prefetch_$r" am --nodes 2 --vcpus 2 --prefetch "$prefetch" --guest memtouch \
    --cmdline "mib=$mib"
  run_guest "numalocal_1node_$r" am --vcpus 2 --numa 2 --guest numalocal --cmdline "kib=$kib passes=$passes"
  run_guest "numalocal_2nodes_$r" am --nodes 2 --vcpus 2 --guest numalocal --cmdline "kib=$kib passes=$passes"
  run_guest "numalocal_2nodes_prefetch_$r" am --nodes 2 --vcpus 2 --prefetch "$prefetch" --guest numalocal \
    --cmdline "kib=$kib passes=$passes"
  # Guest RAM allocated before the guest runs, on 1 node and on 2 alike.
  run_guest "numalocal_1node_preallocate_$r" am --vcpus 2 --numa 2 --preallocate --guest numalocal \
    --cmdline "kib=$kib passes=$passes"
  run_guest "numalocal_2nodes_preallocate_$r" am --nodes 2 --vcpus 2 --preallocate --guest numalocal \
    --cmdline "kib=$kib passes=$passes"
  run_guest "counter_1node_$r" am --vcpus 2 --guest counter --cmdline "iterations=$iterations"
  run_guest "counter_2nodes_$r" am --nodes 2 --vcpus 2 --guest counter --cmdline "iterations=$iterations"
  run_guest "ipi_1node_$r" am --vcpus 2 --guest ipi --cmdline "rounds=$ipi_rounds"
  run_guest "ipi_2nodes_$r" am --nodes 2 --vcpus 2 --guest ipi --cmdline "rounds=$ipi_rounds"
  run_guest "qemu_numalocal_$r" guest/run-on-qemu.sh numalocal 2 "kib=$kib passes=$passes"
  run_guest "amalgam_numalocal_$r" am --vcpus 2 --guest numalocal --cmdline "kib=$kib passes=$passes"
  for n in 1 2 3; do
    run_guest "linux_${n}nodes_$r" "$amalgam" run --timeout 300 --stats --nodes "$n" --vcpus 4 --memory 512M \
      --kernel "$kit/vmlinuz" --initrd "$kit/initramfs.cpio" --cmdline "console=ttyS0 amalgam.work=$linux_work"
  done
done

python3 "$here/bench/report.py" "$out" "$build/bench/results.json" --repeats "$repeats" \
  --config "mib=$mib prefetch=$prefetch kib=$kib passes=$passes iterations=$iterations ipi_rounds=$ipi_rounds linux_work=$linux_work fault=${fault_args[*]}" \
  | tee "$build/bench/results.md"
