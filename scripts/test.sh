#!/usr/bin/env bash
# Builds everything and runs every test: unit, then the same under
# AddressSanitizer/UBSan (unit, simulation and a sample of the integration
# runs), so that sanitizer findings fail the run; last, the message decoder
# under libFuzzer (clang) for AMALGAM_FUZZ_SECONDS (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAMALGAM_SANITIZE=ON
cmake --build build-asan -j "$jobs"
LSAN_OPTIONS="suppressions=$PWD/tests/lsan-suppressions.txt" \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -L "unit|simulation|sanitized"

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DAMALGAM_FUZZ=ON \
  -DAMALGAM_FUZZ_SECONDS="${AMALGAM_FUZZ_SECONDS:-60}"
cmake --build build-fuzz -j "$jobs"
ctest --test-dir build-fuzz --output-on-failure
