#!/usr/bin/env bash
# Builds amalgam and runs the demo: the embedded default guest (counter) on
# 4 vCPUs spread over 2 node processes, with per-node statistics. Any
# arguments replace the demo's own (they go to `amalgam run`). On a host
# without /dev/kvm it runs inside the lab (scripts/lab.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/host-kvm.sh
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
if (($# == 0)); then
  set -- --nodes 2 --vcpus 4 --stats --timeout 120
fi
if host_has_kvm; then
  exec build/amalgam run "$@"
fi
echo "demo: this host has no /dev/kvm; running amalgam inside the lab (scripts/lab.sh)" >&2
exec scripts/lab.sh -- build/amalgam run "$@"
