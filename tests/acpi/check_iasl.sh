#!/usr/bin/env bash
# Checks Amalgam's ACPI tables with the reference disassembler/compiler.
#   check_iasl.sh ACPI_DUMP WORKDIR
# For a few configurations: dump the tables, `iasl -d` each one (it must exit
# 0, print no error or warning, and produce a .dsl without "****" notes such
# as "Incorrect checksum" or "terminates in the middle of a data structure"),
# then compile the .dsl back: 0 errors, 0 warnings, and for the data tables
# the same bytes as ours. iasl missing is a failure, not a skip.
set -uo pipefail
dump=$1
work=$2
if ! command -v iasl >/dev/null; then
  echo "FAIL: iasl not found (install acpica-tools)"
  exit 1
fi
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# iasl (20200925 at least) will not read an RSDP file: its loader wants a
# 4-character NameSeg signature and "RSD " has a space. Check the RSDP's
# signature and both checksums (ACPI 5.2.5.3) here instead.
check_rsdp() {
  local f=$1
  [[ $(head -c 8 "$f") == "RSD PTR " ]] || fail "$f: bad signature"
  local bytes sum20=0 sum36=0 i=0
  read -ra bytes <<<"$(od -An -v -tu1 "$f" | tr -s ' \n' ' ')"
  [[ ${#bytes[@]} -eq 36 ]] || fail "$f: ${#bytes[@]} bytes, 36 expected"
  for b in "${bytes[@]}"; do
    ((i < 20)) && sum20=$((sum20 + b))
    sum36=$((sum36 + b))
    i=$((i + 1))
  done
  ((sum20 % 256 == 0)) || fail "$f: checksum of the first 20 bytes is not zero"
  ((sum36 % 256 == 0)) || fail "$f: extended checksum is not zero"
}

# A table without its checksum (byte 9) and creator ID/revision (28-35).
without_creator() {
  head -c 9 "$1"
  tail -c +11 "$1" | head -c 18
  tail -c +37 "$1"
}

check_table() {
  local dir=$1 sig=$2
  local log=$dir/$sig.disasm.log
  if ! (cd "$dir" && iasl -d "$sig.dat") >"$log" 2>&1; then
    fail "iasl -d $dir/$sig.dat exited non-zero"; cat "$log"
  fi
  if grep -iE "error|warning" "$log"; then fail "iasl -d $dir/$sig.dat complained"; fi
  if [[ ! -s $dir/$sig.dsl ]]; then fail "no $dir/$sig.dsl"; return; fi
  if grep -E '\*\*\*\*|Incorrect|Invalid' "$dir/$sig.dsl"; then fail "$dir/$sig.dsl has notes"; fi

  mkdir -p "$dir/recompiled"
  cp "$dir/$sig.dsl" "$dir/recompiled/"
  log=$dir/recompiled/$sig.log
  if ! (cd "$dir/recompiled" && iasl "$sig.dsl") >"$log" 2>&1; then
    fail "iasl $sig.dsl (recompile) exited non-zero"; cat "$log"
  fi
  if ! grep -q "0 Errors, 0 Warnings" "$log"; then fail "recompiling $sig.dsl warned"; cat "$log"; fi
  # iasl shortens AML name paths, so only the data tables compare byte for
  # byte, and it stamps its own creator ID and revision (hence checksum).
  if [[ $sig != DSDT ]] && ! cmp -s <(without_creator "$dir/recompiled/$sig.aml") \
                                    <(without_creator "$dir/$sig.dat"); then
    fail "$sig recompiled by iasl differs from ours"
  fi
}

check_config() {
  local vcpus=$1 numa=$2 mib=$3
  local dir=$work/vcpus$vcpus-numa$numa
  mkdir -p "$dir"
  echo "== $vcpus vCPUs, $numa NUMA nodes, $mib MiB"
  if ! "$dump" --vcpus "$vcpus" --numa "$numa" --memory-mib "$mib" "$dir"; then
    fail "acpi_dump $vcpus/$numa failed"; return
  fi
  for sig in RSDP XSDT FACP DSDT APIC SRAT SLIT; do
    [[ -s $dir/$sig.dat ]] || fail "acpi_dump wrote no $sig"
  done
  check_rsdp "$dir/RSDP.dat"
  for f in "$dir"/*.dat; do
    local sig
    sig=$(basename "$f" .dat)
    [[ $sig == RSDP ]] || check_table "$dir" "$sig"
  done
}

check_config 1 1 512
check_config 4 2 4096   # node 1 straddles the MMIO hole
check_config 8 3 6000   # uneven split, 2 MiB rounding
check_config 255 64 65536

if ((failures)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "all ACPI tables pass iasl"
