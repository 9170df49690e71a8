// SRAT (5.2.16) and SLIT (5.2.17): the NUMA plan as the guest sees it.
#include "boot/acpi_tables.hpp"

namespace amalgam::boot::acpi {
namespace {
enum : uint8_t { kProcessorAffinity = 0, kMemoryAffinity = 1 };
constexpr uint32_t kEnabled = 1;
}  // namespace

Bytes build_srat(const NumaPlan& numa, const std::vector<uint32_t>& apic_ids) {
  ByteWriter w = begin_sdt("SRAT", 3);
  w.u32(1).u64(0);  // reserved: 1 "for backward compatibility", then 8 bytes
  for (uint32_t domain = 0; domain < numa.nodes.size(); ++domain) {
    for (uint32_t vcpu : numa.nodes[domain].vcpus) {
      w.u8(kProcessorAffinity).u8(16).u8(static_cast<uint8_t>(domain));
      w.u8(static_cast<uint8_t>(apic_ids.at(vcpu))).u32(kEnabled).u8(0 /* SAPIC EID */);
      w.u8(static_cast<uint8_t>(domain >> 8)).u16(static_cast<uint16_t>(domain >> 16));
      w.u32(0);  // clock domain
    }
    for (const auto& range : numa.nodes[domain].memory) {
      w.u8(kMemoryAffinity).u8(40).u32(domain).u16(0);
      w.u64(range.gpa).u64(range.size);  // as low/high dword pairs: same bytes
      w.u32(0).u32(kEnabled).u64(0);
    }
  }
  return finish_sdt(std::move(w));
}

Bytes build_slit(const NumaPlan& numa) {
  ByteWriter w = begin_sdt("SLIT", 1);
  w.u64(numa.distances.size());
  for (const auto& row : numa.distances) w.bytes(row);
  return finish_sdt(std::move(w));
}

}  // namespace amalgam::boot::acpi
