// The CPUID a vCPU sees (Intel SDM vol. 2A, CPUID; vol. 3 ch. 11.4 for the
// APIC bits; AMD APM vol. 3, appendix E, for the 0x8000'00xx leaves). Starts
// from what KVM supports and adjusts it to the machine amalgam emulates:
//   - an xAPIC (no x2APIC) with a TSC-deadline timer and this vCPU's APIC ID;
//   - a topology in which one package is one guest NUMA node: the APIC ID
//     splits into package (high bits) and core (low `package_shift` bits), one
//     thread per core, the last-level cache shared by the package alone
//     (docs/design.md, CPU topology);
//   - KVM's paravirtual clock (kvmclock) and nothing else of KVM's
//     paravirtual interface, since the rest needs KVM's in-kernel LAPIC;
//   - a timing leaf with the TSC and LAPIC timer frequencies, so that guests
//     need not calibrate.
#pragma once

#include "kvm/kvm_abi.hpp"

#include <cstdint>
#include <vector>

namespace amalgam::vcpu {

struct CpuidParams {
  uint32_t apic_id;
  uint32_t vcpu_count;
  uint32_t tsc_khz;
  uint32_t lapic_timer_khz;
  bool baseline = false;       // hide features the ring-0 emulator of nested KVMs fails on (cx16, xsave...)
  uint32_t package_shift = 0;  // APIC ID bits that number the cores of a package
  uint32_t package_vcpus = 1;  // vCPUs in this vCPU's package
};

// KVM's paravirtual leaves (Linux Documentation/virt/kvm/x86/cpuid.rst):
// signature "KVMKVMKVM\0\0\0" and the feature leaf. EAX of the signature leaf
// is the highest hypervisor leaf, kTimingLeaf here.
inline constexpr uint32_t kHypervisorLeaf = 0x4000'0000;
inline constexpr uint32_t kKvmFeaturesLeaf = 0x4000'0001;
inline constexpr uint32_t kKvmFeatureClocksource2 = 1u << 3;     // MSR_KVM_SYSTEM_TIME_NEW / WALL_CLOCK_NEW
inline constexpr uint32_t kKvmFeatureClockStableBit = 1u << 24;  // trust PVCLOCK_TSC_STABLE_BIT
inline constexpr uint32_t kTimingLeaf = 0x4000'0010;             // EAX: TSC kHz, EBX: LAPIC timer kHz

std::vector<kvm_cpuid_entry2> make_cpuid(std::vector<kvm_cpuid_entry2> supported, const CpuidParams& p);

}  // namespace amalgam::vcpu
