#!/bin/busybox sh
# The lab's /init (scripts/lab.sh, docs/lab.md): loads KVM for the emulated
# AMD SVM CPU, mounts the host's root over 9p at /host, gives it this
# kernel's /proc, /sys, /dev (with /dev/kvm), /dev/shm, /dev/pts and a /tmp
# that shows the host's entries, then runs the host's bash on the run folder's run.sh,
# chrooted into /host, with stdin, stdout and stderr on three virtio serial
# ports.
# COMMAND's status goes to the run folder as `status`; then power off.
# Kernel command line: lab.run=<run folder> lab.npt=0|1.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "lab-init: $*" >/dev/ttyS0; }
arg() {
  for w in $(cat /proc/cmdline); do
    case $w in "$1="*) echo "${w#*=}"; return ;; esac
  done
}
# A failure before COMMAND starts: one line on the console, which
# scripts/lab.sh shows, then power off.
die() {
  say "FAILED: $*"
  poweroff -f
}

run=$(arg lab.run)
npt=$(arg lab.npt)
[ -n "$run" ] || die "no lab.run= on the kernel command line"

for m in virtio_pci virtio_console 9pnet_virtio 9p virtio_net; do
  modprobe "$m" || die "modprobe $m failed"
done
# kvm-amd: npt=0 makes KVM shadow the guest's page tables instead of asking
# the emulated CPU for nested paging (docs/lab.md says why that is the
# default).
modprobe kvm_amd npt="${npt:-0}" || die "modprobe kvm_amd npt=${npt:-0} failed"
[ -c /dev/kvm ] || die "no /dev/kvm after loading kvm_amd"

mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 hostroot /host ||
  die "mounting the host's root over 9p failed"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev || die "mounting /dev in /host failed"
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
ln -sf pts/ptmx /host/dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
ln -sf /proc/self/fd /host/dev/fd
ln -sf /proc/self/fd/0 /host/dev/stdin
ln -sf /proc/self/fd/1 /host/dev/stdout
ln -sf /proc/self/fd/2 /host/dev/stderr
# /tmp: what the host's /tmp holds now stays visible (a clone or a build
# there runs), each entry bound from the 9p share; anything new is the
# lab's own, on a tmpfs, where FIFOs and sockets work (9p cannot make them).
mkdir -p /lab/hosttmp
mount -o bind /host/tmp /lab/hosttmp || die "binding the host's /tmp failed"
mount -t tmpfs -o mode=1777 tmpfs /host/tmp || die "mounting /tmp failed"
for entry in /lab/hosttmp/* /lab/hosttmp/.[!.]*; do
  name=${entry##*/}
  if [ -L "$entry" ]; then
    ln -s "$(readlink "$entry")" "/host/tmp/$name"
  elif [ -d "$entry" ]; then
    mkdir "/host/tmp/$name" && mount -o bind "$entry" "/host/tmp/$name"
  elif [ -f "$entry" ]; then
    touch "/host/tmp/$name" && mount -o bind "$entry" "/host/tmp/$name"
  fi
done
ip link set lo up || die "bringing up the loopback interface failed"
[ -r "/host$run/run.sh" ] || die "no $run/run.sh in the host's file system"

# The serial ports by name (scripts/lab.sh names them).
for p in /sys/class/virtio-ports/*; do
  case $(cat "$p/name") in
    lab.stdin) stdin_port=/dev/${p##*/} ;;
    lab.stdout) stdout_port=/dev/${p##*/} ;;
    lab.stderr) stderr_port=/dev/${p##*/} ;;
  esac
done
[ -n "$stdin_port" ] && [ -n "$stdout_port" ] && [ -n "$stderr_port" ] ||
  die "the lab's serial ports are missing"

# Relays between the ports and FIFOs: a port can be open only once, and a
# FIFO lets COMMAND reopen /dev/stdout and pass its descriptors on.
mkfifo /lab/in /lab/out /lab/err
cat "$stdin_port" >/lab/in &
in_relay=$!
cat /lab/out >"$stdout_port" &
out_relay=$!
cat /lab/err >"$stderr_port" &
err_relay=$!

echo started >"/host$run/started"
chroot /host /bin/bash "$run/run.sh" </lab/in >/lab/out 2>/lab/err
status=$?
echo "$status" >"/host$run/status.tmp" && mv "/host$run/status.tmp" "/host$run/status"

# Output still in flight reaches the host before the power goes; processes
# COMMAND left behind that hold its stdout get 2 s.
kill $in_relay 2>/dev/null
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  kill -0 $out_relay 2>/dev/null || kill -0 $err_relay 2>/dev/null || break
  sleep 0.1
done
kill $out_relay $err_relay 2>/dev/null
sync
poweroff -f
