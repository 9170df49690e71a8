#!/usr/bin/env bash
# scripts/lab/kit.sh [CACHE_DIR]
#
# Prepares what the lab (scripts/lab.sh) boots, into a cache outside git
# (default ${XDG_CACHE_HOME:-~/.cache}/amalgam/lab, or $AMALGAM_LAB_CACHE):
#   vmlinuz         Debian 12's kernel, the package linux-image-amd64 depends on
#   initramfs.cpio  busybox-static, the kernel's modules for KVM on AMD SVM,
#                   virtio (PCI, console, 9p, net) and the lab's /init
#                   (scripts/lab/init.sh)
#   stamp           what the initramfs was made from; a change rebuilds it
# Packages come with `apt-get download` and are reused. Prints the cache
# folder on stdout; progress goes to stderr. Any failure is one line on
# stderr and status 2.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/debian.sh"

cache=${1:-${AMALGAM_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amalgam/lab}}
fail() { echo "lab: $*" >&2; exit 2; }
# Anything else that fails: one line naming it, not a silent exit.
trap 'echo "lab: preparing the lab in ${cache:-its cache} failed: $BASH_COMMAND (line $LINENO of $0)" >&2; exit 2' ERR
log() { echo "lab: $*" >&2; }
mkdir -p "$cache/debs" || fail "cannot create the lab cache $cache"
cache=$(cd "$cache" && pwd)

# The modules the lab loads (their dependencies follow from modules.dep):
# KVM on the emulated AMD SVM CPU, and the virtio devices QEMU gives it.
modules=(kvm-amd virtio_pci virtio_console 9pnet_virtio 9p virtio_net)

image_pkg=$(kernel_image_package)
[[ -n $image_pkg ]] || fail "apt knows no package linux-image-amd64 (run apt-get update)"
stamp_want=$( (echo "$image_pkg ${modules[*]}"; cat "$here/init.sh") | sha256sum | cut -c1-16)
if [[ -s $cache/vmlinuz && -s $cache/initramfs.cpio && $(cat "$cache/stamp" 2>/dev/null) == "$stamp_want" ]]; then
  echo "$cache"
  exit 0
fi

log "preparing the lab in $cache (kept for later runs)"
kernel_deb=$(deb_fetch "$cache/debs" "$image_pkg") || fail "apt-get download $image_pkg failed"
busybox_deb=$(deb_fetch "$cache/debs" busybox-static) || fail "apt-get download busybox-static failed"

work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kernel_deb" "$work/kernel" || fail "$kernel_deb: not a Debian package (delete it and retry)"
dpkg-deb -x "$busybox_deb" "$work/busybox" || fail "$busybox_deb: not a Debian package (delete it and retry)"
busybox=$work/busybox/bin/busybox
[[ -x $busybox ]] || fail "$busybox_deb has no bin/busybox"
kver=$(ls -1 "$work/kernel/lib/modules" | head -1)
[[ -n $kver && -s $work/kernel/boot/vmlinuz-$kver ]] || fail "$kernel_deb has no kernel image"

# Dependencies: busybox's depmod writes modules.dep for the whole tree, and
# the closure of the modules above is copied.
"$busybox" depmod -b "$work/kernel" "$kver" || fail "depmod of $kver failed"
moddir=lib/modules/$kver
declare -A wanted=()
add_module() {
  local name=${1//_/-} line path dep
  line=$(awk -v n="$name" '{ f = $1; sub(":$", "", f); b = f; sub(".*/", "", b); sub("\\.ko$", "", b);
                              gsub("_", "-", b); if (b == n) { print; exit } }' "$work/kernel/$moddir/modules.dep")
  [[ -n $line ]] || fail "kernel $kver has no module $1"
  path=${line%%:*}
  [[ -n ${wanted[$path]:-} ]] && return 0
  wanted[$path]=1
  for dep in ${line#*:}; do
    dep=${dep##*/}
    add_module "${dep%.ko}"
  done
}
for m in "${modules[@]}"; do add_module "$m"; done

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,host,lab,"$moddir"}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
done
for path in "${!wanted[@]}"; do
  mkdir -p "$root/$moddir/$(dirname "$path")"
  cp "$work/kernel/$moddir/$path" "$root/$moddir/$path"
done
cp "$work/kernel/$moddir/modules.order" "$work/kernel/$moddir/modules.builtin" "$root/$moddir/" 2>/dev/null || true
"$busybox" depmod -b "$root" "$kver" || fail "depmod of the lab's modules failed"
install -m 755 "$here/init.sh" "$root/init"
(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) >"$work/initramfs.cpio" ||
  fail "cpio failed (is the Debian package cpio installed?)"

cp "$work/kernel/boot/vmlinuz-$kver" "$cache/vmlinuz.tmp" && mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
mv "$work/initramfs.cpio" "$cache/initramfs.cpio"
echo "$kver" >"$cache/kernel-version"
echo "$stamp_want" >"$cache/stamp"
log "ready: kernel $kver, $(du -k "$cache/initramfs.cpio" | cut -f1) KiB initramfs"
echo "$cache"
