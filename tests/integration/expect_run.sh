#!/usr/bin/env bash
# expect_run.sh STATUS REGEX [--one-line-error] -- COMMAND...
#
# Runs COMMAND, then fails unless its exit status is STATUS and its combined
# output matches the extended regular expression REGEX (empty: any). With
# --one-line-error, stderr must also be exactly one line (the promise for bad
# input and machine failures). Output is shown for the ctest log.
set -uo pipefail
expected_status=$1
regex=$2
shift 2
one_line=0
if [[ ${1:-} == --one-line-error ]]; then
  one_line=1
  shift
fi
[[ ${1:-} == -- ]] && shift

# On a slow host (the lab sets AMALGAM_TIME_SCALE, docs/lab.md) a built-in
# test guest waits that many times longer before it calls an interrupt or
# a CPU lost (its time_scale= parameter, guest/README.md).
if [[ -n ${AMALGAM_TIME_SCALE:-} && " $* " == *" --guest "* ]]; then
  args=()
  scaled=0
  while (($#)); do
    if [[ $1 == --cmdline && $# -ge 2 ]]; then
      args+=(--cmdline "$2 time_scale=$AMALGAM_TIME_SCALE")
      scaled=1
      shift 2
    else
      args+=("$1")
      shift
    fi
  done
  ((scaled)) || args+=(--cmdline "time_scale=$AMALGAM_TIME_SCALE")
  set -- "${args[@]}"
fi

out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$@" </dev/null >"$out" 2>"$err"
status=$?
cat "$out"
cat "$err" >&2

ok=1
if [[ $status -ne $expected_status ]]; then
  echo "expect_run: exit status $status, expected $expected_status" >&2
  ok=0
fi
if [[ -n $regex ]] && ! cat "$out" "$err" | grep -Eq -- "$regex"; then
  echo "expect_run: output does not match /$regex/" >&2
  ok=0
fi
if ((one_line)); then
  lines=$(wc -l <"$err")
  if [[ $lines -ne 1 ]]; then
    echo "expect_run: stderr has $lines lines, expected exactly one" >&2
    ok=0
  fi
fi
((ok)) && echo "expect_run: ok"
((ok))
