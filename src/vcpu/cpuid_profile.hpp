// The CPUID a vCPU sees (Intel SDM vol. 2A, CPUID; vol. 3 ch. 11.4 for the
// APIC bits). Starts from what KVM supports and adjusts it to the machine
// amalgam emulates: an xAPIC (no x2APIC) with a TSC-deadline timer, this
// vCPU's APIC ID, and a hypervisor timing leaf with the TSC and LAPIC timer
// frequencies so that guests need not calibrate.
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
  bool baseline = false;  // hide features the ring-0 emulator of nested KVMs fails on (cx16, xsave...)
};

inline constexpr uint32_t kHypervisorLeaf = 0x4000'0000;
inline constexpr uint32_t kTimingLeaf = 0x4000'0010;  // EAX: TSC kHz, EBX: LAPIC timer kHz

std::vector<kvm_cpuid_entry2> make_cpuid(std::vector<kvm_cpuid_entry2> supported, const CpuidParams& p);

}  // namespace amalgam::vcpu
