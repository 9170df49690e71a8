#include "machine/cpu_topology.hpp"

#include <algorithm>
#include <bit>

namespace amalgam::machine {

namespace {
constexpr uint32_t kHighestUsableApicId = 0xFD;  // 0xFE left for the IOAPIC, 0xFF is broadcast
constexpr uint32_t kMinSharedShift = 3;          // see the header: AMD family 17h, models 00h-1Fh

uint32_t ceil_log2(uint32_t n) { return n <= 1 ? 0 : static_cast<uint32_t>(std::bit_width(n - 1)); }
}  // namespace

uint32_t CpuTopology::max_apic_id() const {
  return apic_ids.empty() ? 0 : *std::max_element(apic_ids.begin(), apic_ids.end());
}

CpuTopology make_cpu_topology(const boot::NumaPlan& plan, uint32_t vcpus) {
  CpuTopology t;
  t.apic_ids.assign(vcpus, 0);
  t.package_vcpus.assign(vcpus, vcpus);
  if (plan.nodes.size() <= 1) {
    for (uint32_t v = 0; v < vcpus; ++v) t.apic_ids[v] = v;
    t.package_shift = ceil_log2(vcpus);
    return t;
  }
  uint32_t largest = 0;
  for (const auto& n : plan.nodes) largest = std::max(largest, static_cast<uint32_t>(n.vcpus.size()));
  auto fits = [&](uint32_t shift) {
    return ((static_cast<uint32_t>(plan.nodes.size()) - 1) << shift) + largest - 1 <= kHighestUsableApicId;
  };
  uint32_t shift = std::max(ceil_log2(largest), kMinSharedShift);
  if (!fits(shift)) shift = ceil_log2(largest);
  if (!fits(shift)) {
    for (uint32_t v = 0; v < vcpus; ++v) {
      t.apic_ids[v] = v;
      t.package_vcpus[v] = 1;
    }
    t.package_shift = 0;
    return t;
  }
  t.package_shift = shift;
  for (uint32_t node = 0; node < plan.nodes.size(); ++node) {
    const auto& members = plan.nodes[node].vcpus;
    for (uint32_t rank = 0; rank < members.size(); ++rank) {
      t.apic_ids.at(members[rank]) = (node << shift) + rank;
      t.package_vcpus.at(members[rank]) = static_cast<uint32_t>(members.size());
    }
  }
  return t;
}

}  // namespace amalgam::machine
