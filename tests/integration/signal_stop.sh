#!/usr/bin/env bash
# signal_stop.sh AMALGAM KERNEL SIGNAL [RUN ARGS...]: a running machine that
# gets SIGNAL must stop within 5 s with status 128+N and one line naming the
# signal, and leave no process behind (node processes included).
set -uo pipefail
amalgam=$1 kernel=$2 sig=$3
shift 3
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$amalgam" run --kernel "$kernel" --vcpus 2 "$@" </dev/null 2>"$err" &
pid=$!
sleep 0.5
children=$(pgrep -P "$pid")
sleep 1
start=$(date +%s%N)
kill -"$sig" "$pid"
deadline=$((SECONDS + 5))
while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
  echo "signal_stop: still running 5 s after SIG$sig" >&2
  kill -KILL "$pid"
  exit 1
fi
wait "$pid"
status=$?
ms=$((($(date +%s%N) - start) / 1000000))
cat "$err"
expected=$((128 + $(kill -l "$sig")))
[[ $status -eq $expected ]] || { echo "signal_stop: status $status, expected $expected" >&2; exit 1; }
grep -q "^amalgam: stopped by $sig$" "$err" || { echo "signal_stop: no 'stopped by $sig' line" >&2; exit 1; }
[[ $(wc -l <"$err") -eq 1 ]] || { echo "signal_stop: stderr is not one line" >&2; exit 1; }
for c in $children; do
  kill -0 "$c" 2>/dev/null && { echo "signal_stop: process $c left behind" >&2; kill -KILL "$c"; exit 1; }
done
echo "signal_stop: SIG$sig stopped the machine in $ms ms"
