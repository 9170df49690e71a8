#!/usr/bin/env bash
# guest-kit.sh [CACHE_DIR]
#
# Prepares the Linux guest that the demo and the tests boot, into a cache
# folder outside git (default: ${XDG_CACHE_HOME:-~/.cache}/amalgam/guest-kit,
# or $AMALGAM_GUEST_KIT):
#   vmlinuz        Debian 12's kernel (the package linux-image-amd64 depends on),
#                  a bzImage with an XZ payload: amalgam unpacks it on the host
#   vmlinux        the same kernel as a plain ELF (the payload unpacked with xz)
#   initramfs.cpio a busybox-static initramfs whose /init prints nproc, the
#                  NUMA nodes in /sys/devices/system/node, MemTotal and the
#                  clocksource, runs one job pinned to each CPU at once and
#                  says where each ran and how long they took, then powers off
#                  (amalgam.shell on the command line: a shell first)
#   cmdline        the kernel command line the tests use
# Packages are fetched with `apt-get download` (nothing is installed but cpio)
# and reused on the next run. Prints the cache folder on stdout.
set -euo pipefail

kit=${1:-${AMALGAM_GUEST_KIT:-${XDG_CACHE_HOME:-$HOME/.cache}/amalgam/guest-kit}}
mkdir -p "$kit/debs"
kit=$(cd "$kit" && pwd)
log() { echo "guest-kit: $*" >&2; }

need_cpio() {
  command -v cpio >/dev/null && return 0
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing cpio"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends cpio >&2
}

# The newest .deb of a package in the cache, downloaded when missing.
fetch() {
  local pkg=$1 deb
  deb=$(ls -1 "$kit/debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z $deb ]]; then
    log "downloading $pkg"
    if ! (cd "$kit/debs" && apt-get download "$pkg" >&2); then
      log "apt-get download $pkg failed; trying after apt-get update"
      local sudo=""
      [[ $(id -u) -eq 0 ]] || sudo="sudo"
      $sudo apt-get update -q >&2
      (cd "$kit/debs" && apt-get download "$pkg" >&2)
    fi
    deb=$(ls -1 "$kit/debs/${pkg}_"*.deb | sort -V | tail -1)
  fi
  echo "$deb"
}

# --- the kernel: the image package linux-image-amd64 depends on ---
if [[ ! -s $kit/vmlinuz ]]; then
  image_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  [[ -n $image_pkg ]] || { log "apt-cache knows no linux-image-amd64 (apt-get update?)"; exit 1; }
  deb=$(fetch "$image_pkg")
  rm -rf "$kit/kernel-root"
  dpkg-deb -x "$deb" "$kit/kernel-root"
  vmlinuz=$(ls -1 "$kit/kernel-root/boot/vmlinuz-"* | head -1)
  cp "$vmlinuz" "$kit/vmlinuz.tmp" && mv "$kit/vmlinuz.tmp" "$kit/vmlinuz"
  basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$kit/kernel-version"
  rm -rf "$kit/kernel-root"
fi

# --- the same kernel as a plain ELF: the XZ stream inside the bzImage ---
if [[ ! -s $kit/vmlinux ]]; then
  # Boot protocol: setup_sects at 0x1F1, payload_offset at 0x248 (from the
  # protected-mode code, which starts after setup_sects + 1 sectors).
  setup_sects=$(od -An -tu1 -j $((0x1F1)) -N1 "$kit/vmlinuz" | tr -d ' ')
  payload=$(od -An -tu4 -j $((0x248)) -N4 "$kit/vmlinuz" | tr -d ' ')
  offset=$(((setup_sects + 1) * 512 + payload))
  # (tail may die of SIGPIPE when xz stops at the stream's end: not an error)
  xz -dc --single-stream < <(tail -c +$((offset + 1)) "$kit/vmlinuz") >"$kit/vmlinux.tmp"
  mv "$kit/vmlinux.tmp" "$kit/vmlinux"
fi

# --- the initramfs: busybox-static and an init that reports, works, powers off ---
# Bump kit_init_version when the init below changes: a cached initramfs with
# another version is rebuilt.
kit_init_version=2
if [[ ! -s $kit/initramfs.cpio || $(cat "$kit/initramfs.version" 2>/dev/null) != "$kit_init_version" ]]; then
  need_cpio
  deb=$(fetch busybox-static)
  root=$kit/initramfs-root
  rm -rf "$root" "$kit/busybox-root"
  dpkg-deb -x "$deb" "$kit/busybox-root"
  mkdir -p "$root"/{bin,dev,proc,sys,etc}
  cp "$kit/busybox-root/bin/busybox" "$root/bin/busybox"
  rm -rf "$kit/busybox-root"
  for applet in sh mount cat ls nproc poweroff reboot echo grep sleep uname dmesg taskset seq dd md5sum awk \
                tr date hwclock; do
    ln -sf busybox "$root/bin/$applet"
  done
  cat >"$root/init" <<'EOF'
#!/bin/sh
# Amalgam guest kit: report what the guest sees, run one job on every CPU at
# once, then power off (amalgam.shell on the command line: a shell first;
# amalgam.work=N: blocks of 64 KiB each CPU hashes, default 16).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "amalgam-kit: nproc=$(nproc)"
nodes=$(cd /sys/devices/system/node && ls -d node* 2>/dev/null | tr '\n' ' ')
echo "amalgam-kit: numa_nodes=${nodes% }"
echo "amalgam-kit: nodes_online=$(cat /sys/devices/system/node/online)"
echo "amalgam-kit: $(grep MemTotal /proc/meminfo)"
echo "amalgam-kit: clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
if grep -q amalgam.shell /proc/cmdline; then
  echo "amalgam-kit: shell (exit or poweroff -f to end)"
  /bin/sh
fi
work=16
for word in $(cat /proc/cmdline); do
  case $word in amalgam.work=*) work=${word#amalgam.work=} ;; esac
done
cpus=$(nproc)
started=$(awk '{print $1}' /proc/uptime)
for cpu in $(seq 0 $((cpus - 1))); do
  # Each job is pinned to one CPU and says where it ran (/proc/self/stat
  # field 39: the CPU the process last ran on).
  taskset -c "$cpu" sh -c "dd if=/dev/zero bs=64k count=$work 2>/dev/null | md5sum >/dev/null;
    echo \"amalgam-kit: job $cpu done on cpu \$(awk '{print \$39}' /proc/self/stat)\"" &
done
wait
ended=$(awk '{print $1}' /proc/uptime)
echo "amalgam-kit: jobs=$cpus work=$work seconds=$(awk "BEGIN {printf \"%.2f\", $ended - $started}")"
echo "amalgam-kit: poweroff"
poweroff -f
EOF
  chmod 755 "$root/init"
  (cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) >"$kit/initramfs.cpio.tmp"
  mv "$kit/initramfs.cpio.tmp" "$kit/initramfs.cpio"
  echo "$kit_init_version" >"$kit/initramfs.version"
  rm -rf "$root"
fi

echo "console=ttyS0 earlyprintk=serial,ttyS0 noxsave" >"$kit/cmdline"
log "ready: $kit (kernel $(cat "$kit/kernel-version"))"
echo "$kit"
