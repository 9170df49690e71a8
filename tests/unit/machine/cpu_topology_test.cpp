#include <gtest/gtest.h>

#include <set>

#include "machine/cpu_topology.hpp"

using namespace amalgam::machine;
using amalgam::boot::NumaPlan;

namespace {
NumaPlan plan_of(std::vector<std::vector<uint32_t>> vcpus_per_node) {
  NumaPlan plan;
  for (auto& v : vcpus_per_node) {
    amalgam::boot::NumaNode n;
    n.vcpus = v;
    plan.nodes.push_back(n);
  }
  return plan;
}
}  // namespace

TEST(CpuTopology, OneNumaNodeIsOnePackageNumberedByVcpu) {
  auto t = make_cpu_topology(NumaPlan{}, 6);
  EXPECT_EQ(t.apic_ids, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(t.package_shift, 3u);
  EXPECT_EQ(t.package_vcpus[5], 6u);
}

// Round-robin over two hosts: NUMA node 0 has vCPUs 0 and 2, node 1 has 1 and 3.
TEST(CpuTopology, EachNumaNodeIsAPackageOfItsOwnAtLeastEightIdsApart) {
  auto t = make_cpu_topology(plan_of({{0, 2}, {1, 3}}), 4);
  EXPECT_EQ(t.apic_ids, (std::vector<uint32_t>{0, 8, 1, 9}));
  EXPECT_EQ(t.package_shift, 3u);
  EXPECT_EQ(t.max_apic_id(), 9u);
  for (uint32_t v = 0; v < 4; ++v) {
    EXPECT_EQ(t.apic_ids[v] >> t.package_shift, v % 2) << "vCPU " << v;
    EXPECT_EQ(t.package_vcpus[v], 2u);
  }
}

TEST(CpuTopology, LargeNodesWidenTheShiftAndIdsStayUnique) {
  std::vector<uint32_t> a, b, c;
  for (uint32_t v = 0; v < 30; ++v) (v < 10 ? a : v < 20 ? b : c).push_back(v);
  auto t = make_cpu_topology(plan_of({a, b, c}), 30);
  EXPECT_EQ(t.package_shift, 4u);
  std::set<uint32_t> ids(t.apic_ids.begin(), t.apic_ids.end());
  EXPECT_EQ(ids.size(), 30u);
  EXPECT_EQ(t.apic_ids[10], 16u);
  EXPECT_EQ(t.apic_ids[29], 32u + 9u);
}

// 210 vCPUs in 3 nodes of 70: 3 x 128 IDs do not fit below 0xFE, so each
// vCPU becomes a package of its own, numbered by vCPU.
TEST(CpuTopology, FallsBackToOnePackagePerVcpuWhenSpacedIdsDoNotFit) {
  std::vector<uint32_t> a, b, c;
  for (uint32_t v = 0; v < 210; ++v) (v < 70 ? a : v < 140 ? b : c).push_back(v);
  auto t = make_cpu_topology(plan_of({a, b, c}), 210);
  EXPECT_EQ(t.package_shift, 0u);
  EXPECT_EQ(t.apic_ids[150], 150u);
  EXPECT_EQ(t.package_vcpus[150], 1u);
  EXPECT_LE(t.max_apic_id(), 0xFDu);
}

// The minimum shift of 3 only widens: 2 nodes of 20 need 5 bits each.
TEST(CpuTopology, ShiftCoversTheLargestNode) {
  std::vector<uint32_t> a, b;
  for (uint32_t v = 0; v < 40; ++v) (v < 20 ? a : b).push_back(v);
  auto t = make_cpu_topology(plan_of({a, b}), 40);
  EXPECT_EQ(t.package_shift, 5u);
  EXPECT_EQ(t.apic_ids[39], 32u + 19u);
}
