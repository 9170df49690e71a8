# What KVM this host offers (docs/lab.md). Source it; it defines functions.

# host_has_kvm: true when /dev/kvm is there and usable.
host_has_kvm() {
  [[ -c /dev/kvm && -r /dev/kvm && -w /dev/kvm ]]
}

# why_ring0_emulated: prints why guest ring 0 would not run as on hardware
# here (no KVM; nested kvm_pvm that emulates it; no VT-x/AMD-V), or nothing
# when it would.
why_ring0_emulated() {
  host_has_kvm || { echo "no /dev/kvm"; return; }
  if [[ -d /sys/module/kvm_pvm ]]; then
    echo "KVM here is kvm_pvm (nested, no VT-x/AMD-V): guest ring 0 is emulated"
    return
  fi
  if ! grep -qw -E 'vmx|svm' /proc/cpuinfo; then
    echo "the CPU shows neither vmx nor svm: no hardware virtualization under /dev/kvm"
    return
  fi
  [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]] ||
    echo "neither kvm_intel nor kvm_amd is loaded"
}
