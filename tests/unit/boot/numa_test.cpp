#include <gtest/gtest.h>

#include "boot/numa.hpp"
#include "common/error.hpp"
#include "memory/layout.hpp"

using namespace amalgam;
using namespace amalgam::boot;
using memory::Layout;
using memory::RamRange;

namespace {

uint64_t node_ram(const NumaNode& n) {
  uint64_t total = 0;
  for (const auto& r : n.memory) total += r.size;
  return total;
}

// The nodes' ranges, in order, tile the layout's RAM exactly.
void expect_tiles_ram(const NumaPlan& plan, const Layout& layout) {
  std::vector<RamRange> merged;
  for (const auto& node : plan.nodes)
    for (const auto& r : node.memory) {
      EXPECT_TRUE(layout.is_ram(r.gpa, r.size)) << std::hex << r.gpa << "+" << r.size;
      if (!merged.empty() && merged.back().end() == r.gpa)
        merged.back().size += r.size;
      else
        merged.push_back(r);
    }
  ASSERT_EQ(merged.size(), layout.ram().size());
  for (size_t i = 0; i < merged.size(); ++i) {
    EXPECT_EQ(merged[i].gpa, layout.ram()[i].gpa);
    EXPECT_EQ(merged[i].size, layout.ram()[i].size);
  }
}

void expect_error(uint64_t ram, uint32_t vcpus, uint32_t nodes, const std::string& needle) {
  try {
    make_numa_plan(Layout(ram), vcpus, nodes);
    ADD_FAILURE() << "no error for " << nodes << " nodes, " << vcpus << " vCPUs";
  } catch (const UsageError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("--numa " + std::to_string(nodes)), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

}  // namespace

TEST(NumaPlan, OneNodeHoldsEverything) {
  Layout layout(8ull << 30);
  auto plan = make_numa_plan(layout, 3, 1);
  ASSERT_EQ(plan.nodes.size(), 1u);
  EXPECT_EQ(plan.nodes[0].vcpus, (std::vector<uint32_t>{0, 1, 2}));
  expect_tiles_ram(plan, layout);
  EXPECT_EQ(plan.nodes[0].memory.size(), 2u);  // below and above the hole
  EXPECT_EQ(plan.distances, (std::vector<std::vector<uint8_t>>{{10}}));
}

TEST(NumaPlan, TwoNodesSplitRamAcrossTheHole) {
  Layout layout(4ull << 30);  // [0, 3 GiB) and [4 GiB, 5 GiB)
  auto plan = make_numa_plan(layout, 4, 2);
  ASSERT_EQ(plan.nodes.size(), 2u);
  EXPECT_EQ(plan.nodes[0].vcpus, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(plan.nodes[1].vcpus, (std::vector<uint32_t>{2, 3}));
  ASSERT_EQ(plan.nodes[0].memory.size(), 1u);
  EXPECT_EQ(plan.nodes[0].memory[0].gpa, 0u);
  EXPECT_EQ(plan.nodes[0].memory[0].size, 2ull << 30);
  ASSERT_EQ(plan.nodes[1].memory.size(), 2u);
  EXPECT_EQ(plan.nodes[1].memory[0].gpa, 2ull << 30);
  EXPECT_EQ(plan.nodes[1].memory[0].end(), memory::kMmioHoleStart);
  EXPECT_EQ(plan.nodes[1].memory[1].gpa, memory::kMmioHoleEnd);
  EXPECT_EQ(plan.nodes[1].memory[1].size, 1ull << 30);
  expect_tiles_ram(plan, layout);
  EXPECT_EQ(plan.distances, (std::vector<std::vector<uint8_t>>{{10, 20}, {20, 10}}));
  EXPECT_EQ(plan.node_of_vcpu(1), 0u);
  EXPECT_EQ(plan.node_of_vcpu(2), 1u);
}

TEST(NumaPlan, ThreeNodesAreNearlyEqualAndAligned) {
  Layout layout(6000ull << 20);
  auto plan = make_numa_plan(layout, 8, 3);
  ASSERT_EQ(plan.nodes.size(), 3u);
  EXPECT_EQ(plan.nodes[0].vcpus, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(plan.nodes[1].vcpus, (std::vector<uint32_t>{3, 4, 5}));
  EXPECT_EQ(plan.nodes[2].vcpus, (std::vector<uint32_t>{6, 7}));
  expect_tiles_ram(plan, layout);
  for (const auto& node : plan.nodes) {
    int64_t diff = static_cast<int64_t>(node_ram(node)) - static_cast<int64_t>(layout.ram_size() / 3);
    EXPECT_LE(std::abs(diff), static_cast<int64_t>(2 * kNumaAlignment));
  }
  // Boundaries between nodes sit on 2 MiB.
  for (size_t n = 1; n < plan.nodes.size(); ++n)
    EXPECT_EQ(plan.nodes[n].memory.front().gpa % kNumaAlignment, 0u);
  for (uint32_t v = 0; v < 8; ++v) EXPECT_EQ(plan.node_of_vcpu(v), v < 3 ? 0u : v < 6 ? 1u : 2u);
  EXPECT_EQ(plan.distances[1][1], 10);
  EXPECT_EQ(plan.distances[2][0], 20);
}

TEST(NumaPlan, ManyNodesStillTileRam) {
  for (uint32_t nodes : {5u, 7u, 64u}) {
    Layout layout(65536ull << 20);
    auto plan = make_numa_plan(layout, 255, nodes);
    EXPECT_EQ(plan.nodes.size(), nodes);
    expect_tiles_ram(plan, layout);
    size_t vcpus = 0;
    for (const auto& n : plan.nodes) vcpus += n.vcpus.size();
    EXPECT_EQ(vcpus, 255u);
  }
}

TEST(NumaPlan, RejectsBadNodeCounts) {
  expect_error(1ull << 30, 4, 0, "at least one");
  expect_error(1ull << 30, 4, 5, "more NUMA nodes than vCPUs");
  expect_error(64ull << 30, 100, 65, "at most 64");
  expect_error(64ull << 20, 8, 5, "less than 16 MiB per node");
  // Exactly 16 MiB per node is enough, also with 2 MiB rounding.
  EXPECT_NO_THROW(make_numa_plan(Layout(64ull << 20), 4, 4));
  auto plan = make_numa_plan(Layout((3 * 16ull + 1) << 20), 3, 3);
  for (const auto& node : plan.nodes) EXPECT_GE(node_ram(node), kMinNumaNodeRam);
}

TEST(NumaPlan, NodeOfUnknownVcpuThrows) {
  auto plan = make_numa_plan(Layout(1ull << 30), 2, 2);
  EXPECT_THROW(plan.node_of_vcpu(2), std::out_of_range);
}
