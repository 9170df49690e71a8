#!/usr/bin/env bash
# node_failure.sh AMALGAM KERNEL SIGNAL NODE: runs KERNEL (a guest that never
# ends) on 2 nodes, sends SIGNAL to node NODE's process mid-run, and checks
# that amalgam exits non-zero within 5 s with one line naming the node, and
# that no node process is left behind. SIGKILL is a node that dies; SIGSTOP
# is a node that stops answering.
set -uo pipefail
amalgam=$1 kernel=$2 sig=$3 node=$4
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$amalgam" run --kernel "$kernel" --vcpus 2 --nodes 2 </dev/null 2>"$err" &
launcher=$!
# Wait for both node processes.
for _ in $(seq 100); do
  mapfile -t nodes < <(pgrep -P "$launcher" | sort -n)
  ((${#nodes[@]} == 2)) && break
  sleep 0.05
done
((${#nodes[@]} == 2)) || { echo "node_failure: node processes did not start" >&2; kill -KILL "$launcher"; exit 1; }
sleep 1.5  # mid-run: connected, the guest running
victim=""
for p in "${nodes[@]}"; do
  tr "\0" " " <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--node-id $node " && victim=$p
done
[[ -n $victim ]] || { echo "node_failure: node $node not found" >&2; kill -KILL "$launcher"; exit 1; }
start=$(date +%s%N)
kill -"$sig" "$victim"
deadline=$((SECONDS + 5))
while kill -0 "$launcher" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
if kill -0 "$launcher" 2>/dev/null; then
  echo "node_failure: amalgam still running 5 s after SIG$sig to node $node" >&2
  kill -KILL "$launcher" "${nodes[@]}" 2>/dev/null
  exit 1
fi
wait "$launcher"
status=$?
ms=$((($(date +%s%N) - start) / 1000000))
[[ $sig == STOP ]] && kill -KILL "$victim" 2>/dev/null  # a stopped process needs its own end
cat "$err"
ok=1
((status != 0)) || { echo "node_failure: exit status 0" >&2; ok=0; }
grep -q "node $node" "$err" || { echo "node_failure: the message does not name node $node" >&2; ok=0; }
[[ $(wc -l <"$err") -eq 1 ]] || { echo "node_failure: stderr is not one line" >&2; ok=0; }
sleep 0.2
for p in "${nodes[@]}"; do
  if [[ $sig != STOP || $p != "$victim" ]] && kill -0 "$p" 2>/dev/null; then
    echo "node_failure: node process $p left behind" >&2
    kill -KILL "$p"
    ok=0
  fi
done
((ok)) && echo "node_failure: SIG$sig to node $node: amalgam exited $status after $ms ms"
((ok))
