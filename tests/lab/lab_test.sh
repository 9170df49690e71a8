#!/usr/bin/env bash
# lab_test.sh LAB_SH
#
# scripts/lab.sh itself: what passes through (status, stdin, stdout, stderr,
# the directory, the environment, /dev/kvm, a FIFO in /tmp), and a lab that
# cannot start saying so in one line with status 2 (no QEMU, apt without
# the kernel package, a broken initramfs in the cache), never hanging.
# Runs on the host; each case that boots the lab takes a few seconds.
set -uo pipefail
lab=$(realpath "$1")
failures=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check() {  # check NAME CONDITION...: one line per case
  local name=$1
  shift
  if "$@"; then
    echo "lab_test: ok: $name"
  else
    echo "lab_test: FAIL: $name"
    failures=$((failures + 1))
  fi
}

# One line on stderr that matches REGEX, and status 2.
one_line_refusal() {  # one_line_refusal STATUS ERRFILE REGEX
  local status=$1 err=$2 regex=$3
  [[ $status -eq 2 ]] || { echo "  status $status, expected 2"; cat "$err"; return 1; }
  [[ $(wc -l <"$err") -eq 1 ]] || { echo "  stderr has $(wc -l <"$err") lines, expected 1:"; cat "$err"; return 1; }
  grep -Eq -- "$regex" "$err" || { echo "  stderr does not match /$regex/:"; cat "$err"; return 1; }
}

# --- What passes through ---
mkdir -p "$work/dir"
out=$(cd "$work/dir" && printf 'line one\nline two\n' |
  LAB_TEST_VALUE='a b' "$lab" -- bash -c '
    pwd; echo "env=$LAB_TEST_VALUE"; wc -l; echo to-stderr >&2
    [ -c /dev/kvm ] && echo kvm=yes
    d=$(mktemp -d) && mkfifo "$d/f" && echo fifo=yes
    echo written >"'"$work"'/dir/from-lab"
    exit 7' 2>"$work/err")
status=$?
check "COMMAND's status comes back" test "$status" -eq 7
check "stdout comes back" grep -qx "env=a b" <<<"$out"
check "the current directory is kept" grep -qx "$work/dir" <<<"$out"
check "stdin reaches COMMAND, and its end" grep -qx "2" <<<"$out"
check "stderr comes back on stderr" grep -qx "to-stderr" "$work/err"
check "/dev/kvm is there" grep -qx "kvm=yes" <<<"$out"
check "a FIFO can be made in /tmp" grep -qx "fifo=yes" <<<"$out"
check "files written land on the host" grep -qx "written" "$work/dir/from-lab"

# --- A lab that cannot start ---
"$lab" --smp zero -- true 2>"$work/err"
check "a bad option: one line, status 2" one_line_refusal $? "$work/err" "^lab: --smp zero"

"$lab" 2>"$work/err"
check "no COMMAND: one line, status 2" one_line_refusal $? "$work/err" "^lab: usage"

mkdir -p "$work/bin"
for tool in bash cat mkfifo mktemp nproc awk grep sed tr head tail rm mv ls mkdir sort sha256sum cut du dirname id; do
  ln -sf "$(command -v "$tool")" "$work/bin/$tool"
done
PATH=$work/bin "$lab" -- true 2>"$work/err"
check "no QEMU: one line, status 2" one_line_refusal $? "$work/err" "qemu-system-x86_64 not found"

# apt that knows no kernel package, with an empty cache.
cat >"$work/bin/apt-cache" <<'EOF'
#!/bin/sh
exit 100
EOF
chmod +x "$work/bin/apt-cache"
ln -sf "$(command -v qemu-system-x86_64)" "$work/bin/qemu-system-x86_64"
ln -sf "$(command -v cpio)" "$work/bin/cpio"
AMALGAM_LAB_CACHE=$work/empty-cache PATH=$work/bin "$lab" -- true 2>"$work/err"
check "no kernel package: one line, status 2" one_line_refusal $? "$work/err" "linux-image-amd64"

# A cache whose initramfs is cut short: the lab's kernel finds no init.
cache=$(AMALGAM_LAB_CACHE= "$(dirname "$lab")/lab/kit.sh" 2>/dev/null)
mkdir -p "$work/broken"
cp "$cache/vmlinuz" "$cache/stamp" "$cache/kernel-version" "$work/broken/"
head -c 4096 "$cache/initramfs.cpio" >"$work/broken/initramfs.cpio"
start=$SECONDS
AMALGAM_LAB_CACHE=$work/broken timeout 120 "$lab" -- true 2>"$work/err"
check "a broken cache: one line, status 2" one_line_refusal $? "$work/err" "the lab stopped before COMMAND ended"
check "a broken cache is told within 60 s" test $((SECONDS - start)) -lt 60

if ((failures)); then
  echo "lab_test: $failures case(s) failed"
  exit 1
fi
echo "lab_test: all cases passed"
