#!/usr/bin/env bash
# Installs the Debian packages that building and testing Amalgam need (QEMU
# for the lab, scripts/lab.sh, among them), and only those that are missing.
# Runs as root (or through sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libfmt-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  acpica-tools
  liblzma-dev zlib1g-dev cpio xz-utils
  libucx-dev ucx-utils
  clang libclang-rt-14-dev
  qemu-system-x86
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
