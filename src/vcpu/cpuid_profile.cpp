#include "vcpu/cpuid_profile.hpp"

#include <algorithm>
#include <cstring>

namespace amalgam::vcpu {

namespace {
constexpr uint32_t kEcxCx16 = 1u << 13, kEcxX2apic = 1u << 21, kEcxTscDeadline = 1u << 24,
                   kEcxXsave = 1u << 26, kEcxOsxsave = 1u << 27, kEcxAvx = 1u << 28, kEcxHypervisor = 1u << 31;
constexpr uint32_t kEdxApic = 1u << 9, kEdxHtt = 1u << 28;
// Leaf 0xB/0x1F level types (SDM vol. 2A, CPUID leaf 0BH: ECX[15:8]).
constexpr uint32_t kLevelSmt = 1, kLevelCore = 2;

void set_signature(kvm_cpuid_entry2& e, const char (&sig)[13]) {
  std::memcpy(&e.ebx, sig, 4);
  std::memcpy(&e.ecx, sig + 4, 4);
  std::memcpy(&e.edx, sig + 8, 4);
}

kvm_cpuid_entry2 entry(uint32_t function, uint32_t index = 0) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  return e;
}

// Leaf 0xB or 0x1F: an SMT level of one thread, a core level of the package.
void add_extended_topology(std::vector<kvm_cpuid_entry2>& out, uint32_t function, const CpuidParams& p) {
  for (uint32_t sub = 0; sub < 3; ++sub) {
    auto e = entry(function, sub);
    e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    e.edx = p.apic_id;
    if (sub == 0) {
      e.eax = 0;  // no SMT bits in the APIC ID
      e.ebx = 1;
      e.ecx = kLevelSmt << 8;
    } else if (sub == 1) {
      e.eax = p.package_shift;
      e.ebx = p.package_vcpus;
      e.ecx = (kLevelCore << 8) | 1;
    } else {
      e.ecx = sub;  // level type 0: no more levels
    }
    out.push_back(e);
  }
}

// Cache leaves (Intel leaf 4, AMD 0x8000001D): EAX[25:14] is the number of
// logical processors sharing the cache, less one. L1 and L2 belong to one
// core; the last level to the package.
void set_cache_sharing(kvm_cpuid_entry2& e, const CpuidParams& p, bool intel_leaf4) {
  uint32_t level = (e.eax >> 5) & 7;
  if (level == 0) return;  // no cache at this subleaf
  uint32_t sharing = level >= 3 ? (1u << p.package_shift) - 1 : 0;
  e.eax = (e.eax & ~(0xFFFu << 14)) | (std::min(sharing, 0xFFFu) << 14);
  // Leaf 4 EAX[31:26]: addressable core IDs in the package, less one.
  if (intel_leaf4) e.eax = (e.eax & 0x03FF'FFFF) | (std::min((1u << p.package_shift) - 1, 63u) << 26);
}
}  // namespace

std::vector<kvm_cpuid_entry2> make_cpuid(std::vector<kvm_cpuid_entry2> entries, const CpuidParams& p) {
  // KVM's own paravirtual leaves list features that need its in-kernel LAPIC
  // (async page faults, PV EOI, PV unhalt...): replaced by ours below.
  std::erase_if(entries, [](const kvm_cpuid_entry2& e) { return e.function >= kHypervisorLeaf && e.function < 0x4000'1000; });
  uint32_t max_basic = 0;
  bool had_leaf_1f = false;
  for (const auto& e : entries) {
    if (e.function == 0) max_basic = e.eax;
    if (e.function == 0x1F) had_leaf_1f = true;
  }
  std::erase_if(entries, [](const kvm_cpuid_entry2& e) { return e.function == 0xB || e.function == 0x1F; });
  const uint32_t package_ids = 1u << p.package_shift;

  for (auto& e : entries) {
    switch (e.function) {
      case 1:
        // EBX[31:24] initial APIC ID, [23:16] addressable IDs per package.
        e.ebx = (e.ebx & 0x0000'FFFF) | (std::min(package_ids, 255u) << 16) | (p.apic_id << 24);
        e.ecx = (e.ecx & ~kEcxX2apic) | kEcxTscDeadline | kEcxHypervisor;
        e.edx = (e.edx & ~kEdxHtt) | kEdxApic | (package_ids > 1 ? kEdxHtt : 0);
        if (p.baseline) e.ecx &= ~(kEcxCx16 | kEcxXsave | kEcxOsxsave | kEcxAvx);
        break;
      case 4:
        set_cache_sharing(e, p, true);
        break;
      case 7:
        if (p.baseline && e.index == 0) e.ebx &= ~(1u << 5 | 1u << 16);  // AVX2, AVX-512F
        break;
      case 0x8000'0008:
        // ECX[15:12] APIC ID bits for the core, [7:0] cores per package less one.
        e.ecx = (e.ecx & ~0xF0FFu) | (p.package_shift << 12) | std::min(package_ids - 1, 255u);
        break;
      case 0x8000'001D:
        set_cache_sharing(e, p, false);
        break;
      case 0x8000'001E:
        // EAX extended APIC ID; EBX[7:0] core, [15:8] threads per core less
        // one; ECX[7:0] node (die) ID, [10:8] nodes per package less one.
        e.eax = p.apic_id;
        e.ebx = (e.ebx & ~0xFFFFu) | (p.apic_id & (package_ids - 1));
        e.ecx = (e.ecx & ~0x7FFu) | (p.apic_id >> p.package_shift);
        break;
      default:
        break;
    }
  }
  if (max_basic >= 0xB) add_extended_topology(entries, 0xB, p);
  if (had_leaf_1f) add_extended_topology(entries, 0x1F, p);
  if (p.baseline) std::erase_if(entries, [](const kvm_cpuid_entry2& e) { return e.function == 0xD; });

  auto hv = entry(kHypervisorLeaf);
  hv.eax = kTimingLeaf;  // highest hypervisor leaf
  set_signature(hv, "KVMKVMKVM\0\0\0");
  entries.push_back(hv);

  // kvmclock only: KVM serves its MSRs in the kernel whatever the irqchip.
  auto features = entry(kKvmFeaturesLeaf);
  features.eax = kKvmFeatureClocksource2 | kKvmFeatureClockStableBit;
  entries.push_back(features);

  auto timing = entry(kTimingLeaf);
  timing.eax = p.tsc_khz;
  timing.ebx = p.lapic_timer_khz;
  entries.push_back(timing);
  return entries;
}

}  // namespace amalgam::vcpu
