// The guest's NUMA topology: which vCPUs and which RAM belong to which node,
// and the distances between nodes. It feeds the SRAT and SLIT (ACPI 5.2.16,
// 5.2.17) and, later, the placement of guest memory on hosts.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/layout.hpp"

namespace amalgam::boot {

inline constexpr uint32_t kMaxNumaNodes = 64;
inline constexpr uint64_t kMinNumaNodeRam = 16ull << 20;
inline constexpr uint64_t kNumaAlignment = 2ull << 20;  // one large page
inline constexpr uint8_t kNumaLocalDistance = 10;        // SLIT: 10 means local (5.2.17)
inline constexpr uint8_t kNumaRemoteDistance = 20;

struct NumaNode {
  std::vector<memory::RamRange> memory;  // guest-physical ranges, ascending
  std::vector<uint32_t> vcpus;           // vCPU indices, ascending
};

struct NumaPlan {
  std::vector<NumaNode> nodes;
  std::vector<std::vector<uint8_t>> distances;  // nodes x nodes

  // Throws std::out_of_range when no node holds the vCPU.
  uint32_t node_of_vcpu(uint32_t vcpu) const;
};

// `--numa N`: vCPUs split into N contiguous blocks (the first vcpus % N
// blocks one larger), RAM counted without the MMIO hole split into N parts of
// nearly equal size whose boundaries are 2 MiB aligned; a part that straddles
// the hole has two ranges. Throws UsageError naming --numa for 0 nodes, more
// nodes than vCPUs, more than 64 nodes, or less than 16 MiB of RAM per node.
NumaPlan make_numa_plan(const memory::Layout& layout, uint32_t vcpus, uint32_t numa_nodes);

}  // namespace amalgam::boot
