#!/usr/bin/env bash
# Builds everything and runs every test: unit, simulation and command-line
# tests on this host; the integration tests (real KVM, the test guests,
# several node processes) on this host's KVM, or inside the lab
# (scripts/lab.sh, docs/lab.md) when it has none; the Linux boot tests always
# in the lab, where guest ring 0 runs as on hardware. Then the same under
# AddressSanitizer/UBSan (unit, simulation and a sample of the integration
# runs), so that sanitizer findings fail the run; last, the message decoder
# under libFuzzer (clang) for AMALGAM_FUZZ_SECONDS (default 60).
#
# Tests labelled lab-known fail in the lab for a known cause (README, The
# lab) and are left out of lab runs; a host with KVM still runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/host-kvm.sh
scripts/install-deps.sh
jobs=$(nproc)
say() { echo "test.sh: $*"; }
# step NAME COMMAND...: runs it and says how long it took.
step() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  say "$name: $((SECONDS - start)) s"
}

# The lab has no network: what the Linux tests boot is prepared out here.
scripts/guest-kit.sh >/dev/null
if host_has_kvm; then
  say "this host has /dev/kvm: integration tests run here, the Linux tests in the lab"
  here_excluded=linux
  lab_labels=linux
else
  say "this host has no /dev/kvm: integration and Linux tests run inside the lab (scripts/lab.sh)"
  here_excluded="integration|linux"
  lab_labels="integration|linux"
fi
lab() { scripts/lab.sh -- "$@"; }

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
step "build" cmake --build build -j "$jobs"
step "tests here" ctest --test-dir build --output-on-failure -j "$jobs" -LE "$here_excluded"
step "tests in the lab" lab ctest --test-dir build --output-on-failure -j "$jobs" -L "$lab_labels" -LE lab-known

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAMALGAM_SANITIZE=ON
step "ASan build" cmake --build build-asan -j "$jobs"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan-suppressions.txt"
if host_has_kvm; then
  step "ASan tests here" ctest --test-dir build-asan --output-on-failure -j "$jobs" -L "unit|simulation|sanitized"
else
  step "ASan tests here" ctest --test-dir build-asan --output-on-failure -j "$jobs" -L "unit|simulation|sanitized" \
    -LE integration
  step "ASan tests in the lab" lab ctest --test-dir build-asan --output-on-failure -j "$jobs" -L integration \
    -L sanitized -LE lab-known
fi
unset LSAN_OPTIONS

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DAMALGAM_FUZZ=ON \
  -DAMALGAM_FUZZ_SECONDS="${AMALGAM_FUZZ_SECONDS:-60}"
step "fuzz build" cmake --build build-fuzz -j "$jobs"
step "fuzzing" ctest --test-dir build-fuzz --output-on-failure
say "all passed in $SECONDS s"
