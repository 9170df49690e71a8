#!/usr/bin/env bash
# signal_stop.sh AMALGAM KERNEL SIGNAL [RUN ARGS...]: a running machine that
# gets SIGNAL must stop within 5 s with status 128+N and one line naming the
# signal, and leave no process behind (node processes included). On a slow
# host (AMALGAM_TIME_SCALE, set by the lab) the limits stretch by that factor.
set -uo pipefail
amalgam=$1 kernel=$2 sig=$3
shift 3
scale=${AMALGAM_TIME_SCALE:-1}
nodes=1
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; ++i)); do
  [[ ${args[i]} == --nodes ]] && nodes=${args[i + 1]}
done
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$amalgam" run --kernel "$kernel" --vcpus 2 "$@" </dev/null 2>"$err" &
pid=$!
# wait_for WHAT COMMAND...: until COMMAND succeeds, while amalgam runs, for
# at most 10 s (stretched); otherwise kill amalgam and fail naming WHAT.
wait_for() {
  local what=$1 deadline=$((SECONDS + 10 * scale))
  shift
  until "$@"; do
    if ((SECONDS >= deadline)) || ! kill -0 "$pid" 2>/dev/null; then
      echo "signal_stop: $what within $((10 * scale)) s" >&2
      kill -KILL "$pid" 2>/dev/null
      exit 1
    fi
    sleep 0.02
  done
}
# With several nodes, every node process must be there before the signal,
# so that the check below knows them all.
children=
all_nodes_started() { (($(pgrep -c -P "$pid") >= nodes)); }
if ((nodes > 1)); then
  wait_for "$nodes node processes did not start" all_nodes_started
  children=$(pgrep -P "$pid")
fi
# amalgam blocks the stop signals first thing (src/cli/main.cpp), before its
# libraries' start-up, which under ASan in the lab can take over a second:
# wait for that, so that the signal meets amalgam, not the exec before it.
signum=$(kill -l "$sig")
blocked() {
  local mask
  mask=$(awk '/^SigBlk:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  [[ -n $mask ]] && (((16#$mask >> (signum - 1)) & 1))
}
wait_for "amalgam did not block SIG$sig" blocked
sleep 1
start=$(date +%s%N)
kill -"$sig" "$pid"
limit=$((5 * scale))
deadline=$((SECONDS + limit))
while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
  echo "signal_stop: still running $limit s after SIG$sig" >&2
  kill -KILL "$pid"
  exit 1
fi
wait "$pid"
status=$?
ms=$((($(date +%s%N) - start) / 1000000))
cat "$err"
expected=$((128 + signum))
[[ $status -eq $expected ]] || { echo "signal_stop: status $status, expected $expected" >&2; exit 1; }
grep -q "^amalgam: stopped by $sig$" "$err" || { echo "signal_stop: no 'stopped by $sig' line" >&2; exit 1; }
[[ $(wc -l <"$err") -eq 1 ]] || { echo "signal_stop: stderr is not one line" >&2; exit 1; }
for c in $children; do
  kill -0 "$c" 2>/dev/null && { echo "signal_stop: process $c left behind" >&2; kill -KILL "$c"; exit 1; }
done
echo "signal_stop: SIG$sig stopped the machine in $ms ms"
