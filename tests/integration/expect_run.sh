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
