#include <gtest/gtest.h>

#include "dsm/page_heat.hpp"

using amalgam::dsm::PageHeat;

TEST(PageHeat, NamesTheMostFaultedPagesMostFirst) {
  PageHeat heat(100);
  for (int i = 0; i < 5; ++i) heat.count(7);
  for (int i = 0; i < 9; ++i) heat.count(42);
  heat.count(3);
  heat.count(99);
  heat.count(100);  // beyond the guest's pages: not counted, no crash
  auto top = heat.hottest(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0], (std::pair<uint64_t, uint32_t>{42, 9}));
  EXPECT_EQ(top[1], (std::pair<uint64_t, uint32_t>{7, 5}));
  EXPECT_EQ(top[2], (std::pair<uint64_t, uint32_t>{3, 1}));  // ties: lower page first
  EXPECT_EQ(heat.hottest(10).size(), 4u);                      // pages with no fault are left out
  EXPECT_TRUE(PageHeat(10).hottest(5).empty());
}
