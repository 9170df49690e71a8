#include "vcpu/cpuid_profile.hpp"

#include <algorithm>
#include <cstring>

namespace amalgam::vcpu {

namespace {
constexpr uint32_t kEcxCx16 = 1u << 13, kEcxX2apic = 1u << 21, kEcxTscDeadline = 1u << 24,
                   kEcxXsave = 1u << 26, kEcxOsxsave = 1u << 27, kEcxAvx = 1u << 28, kEcxHypervisor = 1u << 31;
constexpr uint32_t kEdxApic = 1u << 9;

void set_signature(kvm_cpuid_entry2& e, const char (&sig)[13]) {
  std::memcpy(&e.ebx, sig, 4);
  std::memcpy(&e.ecx, sig + 4, 4);
  std::memcpy(&e.edx, sig + 8, 4);
}
}  // namespace

std::vector<kvm_cpuid_entry2> make_cpuid(std::vector<kvm_cpuid_entry2> entries, const CpuidParams& p) {
  // KVM's own paravirtual leaves assume its in-kernel LAPIC and clocks; we
  // replace them with ours.
  std::erase_if(entries, [](const kvm_cpuid_entry2& e) { return e.function >= kHypervisorLeaf && e.function < 0x4000'1000; });

  for (auto& e : entries) {
    switch (e.function) {
      case 1:
        // EBX[31:24] initial APIC ID, [23:16] logical processors per package.
        e.ebx = (e.ebx & 0x0000'FFFF) | (std::min<uint32_t>(p.vcpu_count, 255) << 16) | (p.apic_id << 24);
        e.ecx = (e.ecx & ~kEcxX2apic) | kEcxTscDeadline | kEcxHypervisor;
        e.edx |= kEdxApic;
        if (p.baseline) e.ecx &= ~(kEcxCx16 | kEcxXsave | kEcxOsxsave | kEcxAvx);
        break;
      case 0xB:
      case 0x1F:
        e.edx = p.apic_id;  // x2APIC ID of this logical processor
        break;
      case 7:
        if (p.baseline && e.index == 0) e.ebx &= ~(1u << 5 | 1u << 16);  // AVX2, AVX-512F
        break;
      default:
        break;
    }
  }
  if (p.baseline) std::erase_if(entries, [](const kvm_cpuid_entry2& e) { return e.function == 0xD; });

  kvm_cpuid_entry2 hv{};
  hv.function = kHypervisorLeaf;
  hv.eax = kTimingLeaf;  // highest hypervisor leaf
  set_signature(hv, "AmalgamAmlgm");
  entries.push_back(hv);

  kvm_cpuid_entry2 timing{};
  timing.function = kTimingLeaf;
  timing.eax = p.tsc_khz;
  timing.ebx = p.lapic_timer_khz;
  entries.push_back(timing);
  return entries;
}

}  // namespace amalgam::vcpu
