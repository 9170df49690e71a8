#!/usr/bin/env bash
# linux_boot.sh AMALGAM GUEST_KIT_SCRIPT [amalgam run options...]
#
# Boots Debian's own kernel (scripts/guest-kit.sh prepares it) under amalgam
# and reads the kernel's log from the UART line by line, checking:
#   - the version banner;
#   - the E820 map ("BIOS-e820:" lines) exactly as `amalgam e820` prints it
#     for the same options;
#   - the SRAT memory ranges of every NUMA node ("ACPI: SRAT: Node ...");
#   - smpboot allowing every vCPU;
#   - memory init ("Memory: ...K/TOTALK available") with TOTAL the usable
#     RAM of the E820 map in whole pages.
# As soon as all of it has been seen amalgam is stopped and the test passes
# (set AMALGAM_LINUX_TO_END=1 to let it run on instead: where ring 0 is
# emulated the kernel later stops on an instruction the emulator rejects, and
# amalgam must then end non-zero with one line naming it; where it runs
# natively the kit's init must report and power off with status 0). A kit that
# cannot be prepared fails the test.
set -uo pipefail
amalgam=$1
kit_script=$2
shift 2
run_options=("$@")
to_end=${AMALGAM_LINUX_TO_END:-0}
# Seconds for the whole test (about 80 s on a quiet 2-core machine here).
limit=${AMALGAM_LINUX_LIMIT:-$(((to_end)) && echo 900 || echo 170)}

say() { echo "linux_boot: $*"; }
fail() {
  say "FAIL: $*"
  [[ -s ${work:-/nonexistent}/stderr ]] && { say "amalgam's stderr:"; cat "$work/stderr"; }
  exit 1
}

kit=$("$kit_script") || fail "the guest kit could not be prepared ($kit_script)"
started=$SECONDS  # the limit is for the boot, not for a first download of the kit
vcpus=1
for ((i = 0; i < ${#run_options[@]}; i++)); do
  [[ ${run_options[i]} == --vcpus ]] && vcpus=${run_options[i + 1]}
done

expected=$("$amalgam" e820 "${run_options[@]}") || fail "amalgam e820 ${run_options[*]} failed"
mapfile -t want_e820 < <(grep '^BIOS-e820:' <<<"$expected")
mapfile -t want_srat < <(grep '^ACPI: SRAT:' <<<"$expected")
# Usable RAM in whole pages, in KiB: what the kernel counts as its total
# (less page 0, which Linux always reserves: arch/x86/kernel/setup.c).
total_kib=-4
while read -r range; do
  start=$((16#${range%%-*})) end=$((16#${range##*-} + 1))
  start=$(((start + 4095) / 4096)) end=$((end / 4096))
  ((end > start)) && total_kib=$((total_kib + (end - start) * 4))
done < <(grep usable <<<"$expected" | sed -E 's/.*\[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\].*/\1-\2/')

work=$(mktemp -d)
trap 'kill -TERM "$pid" 2>/dev/null; rm -rf "$work"' EXIT
mkfifo "$work/uart"
cmd=("$amalgam" run --kernel "$kit/vmlinuz" --initrd "$kit/initramfs.cpio" --cmdline "$(cat "$kit/cmdline")"
     --cpu baseline --timeout "$limit" "${run_options[@]}")
say "${cmd[*]}"
"${cmd[@]}" <&- >"$work/uart" 2>"$work/stderr" &
pid=$!
exec 3<"$work/uart"

seen_banner=0 seen_smp=0 seen_memory=0 seen_init=0 got_e820=() got_srat=()
complete() {
  ((seen_banner && seen_smp && seen_memory)) && [[ ${#got_e820[@]} -eq ${#want_e820[@]} ]] || return 1
  local w
  for w in "${want_srat[@]}"; do grep -qxF -- "$w" <(printf '%s\n' "${got_srat[@]}") || return 1; done
}

eof=0
while :; do
  left=$((limit - (SECONDS - started)))
  ((left > 0)) || fail "not everything seen within ${limit} s"
  if ! IFS= read -r -t "$left" raw <&3; then
    [[ -n ${raw:-} ]] || { eof=1; break; }
  fi
  line=${raw%$'\r'}
  echo "$line"
  msg=$(sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' <<<"$line")
  case $msg in
    "Linux version "*) seen_banner=1 ;;
    BIOS-e820:*) got_e820+=("$msg") ;;
    "ACPI: SRAT: Node "*) got_srat+=("$msg") ;;
    "smpboot: Allowing $vcpus CPUs, 0 hotplug CPUs") seen_smp=1 ;;
    Memory:*K/*K\ available*)
      total=$(sed -E 's/^Memory: [0-9]+K\/([0-9]+)K available.*/\1/' <<<"$msg")
      ((total == total_kib)) || fail "memory init counts ${total}K, the E820 map has ${total_kib}K usable"
      seen_memory=1 ;;
    "amalgam-kit: poweroff") seen_init=1 ;;
  esac
  if ((!to_end)) && complete; then
    say "all seen after $((SECONDS - started)) s; stopping amalgam"
    break
  fi
done

# The E820 map, line by line, and the SRAT ranges.
for ((i = 0; i < ${#want_e820[@]}; i++)); do
  [[ ${got_e820[i]:-} == "${want_e820[i]}" ]] ||
    fail "E820 entry $i: kernel logged '${got_e820[i]:-nothing}', amalgam built '${want_e820[i]}'"
done
((${#got_e820[@]} == ${#want_e820[@]})) || fail "kernel logged ${#got_e820[@]} E820 entries, amalgam built ${#want_e820[@]}"
for w in "${want_srat[@]}"; do
  printf '%s\n' "${got_srat[@]}" | grep -qxF -- "$w" || fail "SRAT entry missing from the kernel's log: $w"
done
((seen_banner)) || fail "no 'Linux version' banner"
((seen_smp)) || fail "no 'smpboot: Allowing $vcpus CPUs'"
((seen_memory)) || fail "no 'Memory: ...K/${total_kib}K available'"

if ((!eof)); then
  # Everything checked was seen and amalgam still runs: stop it.
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  say "ok ($((SECONDS - started)) s)"
  exit 0
fi

wait "$pid"
status=$?
cat "$work/stderr" >&2
if ((seen_init)); then
  ((status == 0)) || fail "the guest powered off but amalgam ended with status $status"
  say "ok: full boot to init and poweroff ($((SECONDS - started)) s)"
  exit 0
fi
lines=$(wc -l <"$work/stderr")
((status != 0)) || fail "the kernel stopped without powering off, yet amalgam ended with status 0"
[[ $lines -eq 1 ]] || fail "amalgam ended with status $status and $lines lines on stderr, expected one"
say "ok: amalgam ended with status $status: $(cat "$work/stderr") ($((SECONDS - started)) s)"
