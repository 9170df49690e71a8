// APIC IDs and packages: one package per guest NUMA node (docs/design.md,
// CPU topology). The APIC ID of a vCPU is its NUMA node's number shifted
// left by `package_shift`, plus its rank among that node's vCPUs, so that
// what CPUID says about packages and shared caches (vcpu/cpuid_profile.hpp)
// never puts vCPUs of two NUMA nodes in one package or last-level cache.
// The shift is at least 3 when there are several NUMA nodes: AMD family
// 17h models 00h-1Fh have no cache-topology leaf that Linux reads, and it
// takes APIC ID bits 3 and up as the last-level cache.
#pragma once

#include <cstdint>
#include <vector>

#include "boot/numa.hpp"

namespace amalgam::machine {

struct CpuTopology {
  std::vector<uint32_t> apic_ids;       // per vCPU
  std::vector<uint32_t> package_vcpus;  // per vCPU: vCPUs in its package
  uint32_t package_shift = 0;           // APIC ID bits below the package number
  uint32_t max_apic_id() const;
};

// For a plan with no NUMA nodes all vCPUs form one package. When the spaced
// IDs would not fit the 8-bit xAPIC ID (0xFF is broadcast and one ID is left
// for the IOAPIC), each vCPU is a package of its own, numbered by vCPU.
CpuTopology make_cpu_topology(const boot::NumaPlan& plan, uint32_t vcpus);

}  // namespace amalgam::machine
