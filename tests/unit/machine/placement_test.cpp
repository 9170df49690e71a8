#include <gtest/gtest.h>

#include "common/error.hpp"
#include "machine/machine_config.hpp"
#include "machine/numa_placement.hpp"

using namespace amalgam::machine;

TEST(Placement, RoundRobinSpreadsVcpus) {
  EXPECT_EQ(round_robin_placement(5, 2), (std::vector<uint32_t>{0, 1, 0, 1, 0}));
  EXPECT_EQ(round_robin_placement(3, 3), (std::vector<uint32_t>{0, 1, 2}));
}

TEST(Placement, ParsesAnExplicitList) {
  EXPECT_EQ(parse_placement("0,0,1,1", 4, 2), (std::vector<uint32_t>{0, 0, 1, 1}));
}

TEST(Placement, RejectsBadListsNamingTheFlag) {
  for (auto [text, vcpus] : {std::pair{"0,2", 2u}, {"0,1,1", 2u}, {"0,x", 2u}, {"", 2u}, {"0,0", 2u}, {"0,,1", 3u}}) {
    try {
      parse_placement(text, vcpus, 2);
      ADD_FAILURE() << text;
    } catch (const amalgam::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--placement"), std::string::npos) << e.what();
    }
  }
}

TEST(Placement, ValidateChecksNodeCounts) {
  MachineConfig c;
  c.vcpus = 2;
  c.node_count = 3;
  EXPECT_THROW(validate(c), amalgam::UsageError);
  c.node_count = 2;
  c.placement = {0};
  EXPECT_THROW(validate(c), amalgam::UsageError);
  c.placement = {0, 1};
  EXPECT_NO_THROW(validate(c));
}

TEST(NumaPlacement, NumaNodeKIsNodeProcessKWithItsPlacedVcpus) {
  MachineConfig c;
  c.vcpus = 4;
  c.node_count = 2;
  c.numa_nodes = 2;
  c.placement = round_robin_placement(4, 2);
  amalgam::memory::Layout layout(1ull << 30);
  auto plan = numa_plan(c, layout);
  ASSERT_EQ(plan.nodes.size(), 2u);
  EXPECT_EQ(plan.nodes[0].vcpus, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(plan.nodes[1].vcpus, (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(home_node(plan, 0x1000, 2), 0u);
  EXPECT_EQ(home_node(plan, (1ull << 30) - 4096, 2), 1u);
}

TEST(NumaPlacement, OneNodeKeepsContiguousBlocks) {
  MachineConfig c;
  c.vcpus = 4;
  c.numa_nodes = 2;
  auto plan = numa_plan(c, amalgam::memory::Layout(1ull << 30));
  EXPECT_EQ(plan.nodes[0].vcpus, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(home_node(plan, (1ull << 30) - 4096, 1), 0u);  // one node process homes everything
}
