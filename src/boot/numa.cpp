#include "boot/numa.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "common/error.hpp"

namespace amalgam::boot {
namespace {

[[noreturn]] void fail(uint32_t nodes, const std::string& why) {
  throw UsageError(fmt::format("--numa {}: {}", nodes, why));
}

void check_node_count(uint64_t ram, uint32_t vcpus, uint32_t nodes) {
  if (nodes == 0) fail(nodes, "need at least one NUMA node");
  if (nodes > kMaxNumaNodes) fail(nodes, fmt::format("at most {} NUMA nodes are supported", kMaxNumaNodes));
  if (nodes > vcpus) fail(nodes, fmt::format("more NUMA nodes than vCPUs ({})", vcpus));
  // Rounding the boundaries down to 2 MiB cannot take a part below this: the
  // minimum is itself a multiple of 2 MiB.
  if (ram / nodes < kMinNumaNodeRam)
    fail(nodes, fmt::format("{} MiB of memory leaves less than {} MiB per node", ram >> 20,
                            kMinNumaNodeRam >> 20));
}

// The gpa ranges holding RAM bytes [from, to) counted without the hole.
std::vector<memory::RamRange> ram_between(const memory::Layout& layout, uint64_t from, uint64_t to) {
  std::vector<memory::RamRange> out;
  uint64_t offset = 0;  // RAM offset of the current range's first byte
  for (const auto& r : layout.ram()) {
    uint64_t lo = std::max(from, offset), hi = std::min(to, offset + r.size);
    if (lo < hi) out.push_back({r.gpa + (lo - offset), hi - lo});
    offset += r.size;
  }
  return out;
}

}  // namespace

uint32_t NumaPlan::node_of_vcpu(uint32_t vcpu) const {
  for (size_t n = 0; n < nodes.size(); ++n)
    if (std::ranges::binary_search(nodes[n].vcpus, vcpu)) return static_cast<uint32_t>(n);
  throw std::out_of_range(fmt::format("vCPU {} is in no NUMA node", vcpu));
}

NumaPlan make_numa_plan(const memory::Layout& layout, uint32_t vcpus, uint32_t numa_nodes) {
  check_node_count(layout.ram_size(), vcpus, numa_nodes);
  NumaPlan plan;
  const uint64_t total = layout.ram_size();
  uint32_t next_vcpu = 0;
  uint64_t ram_start = 0;
  for (uint32_t n = 0; n < numa_nodes; ++n) {
    NumaNode node;
    uint32_t count = vcpus / numa_nodes + (n < vcpus % numa_nodes ? 1 : 0);
    for (uint32_t i = 0; i < count; ++i) node.vcpus.push_back(next_vcpu++);
    // total <= 1 TiB and n < 64, so the product cannot overflow.
    uint64_t ram_end = n + 1 == numa_nodes
                           ? total
                           : total * (n + 1) / numa_nodes / kNumaAlignment * kNumaAlignment;
    node.memory = ram_between(layout, ram_start, ram_end);
    ram_start = ram_end;
    plan.nodes.push_back(std::move(node));
  }
  plan.distances.assign(numa_nodes, std::vector<uint8_t>(numa_nodes, kNumaRemoteDistance));
  for (uint32_t n = 0; n < numa_nodes; ++n) plan.distances[n][n] = kNumaLocalDistance;
  return plan;
}

}  // namespace amalgam::boot
