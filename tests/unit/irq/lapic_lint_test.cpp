#include <gtest/gtest.h>

#include "lapic_fixture.hpp"

using namespace amalgam::irq;
using namespace amalgam::irq::test;

namespace {
constexpr uint32_t kNmiMode = 4u << 8;
constexpr uint32_t kExtIntMode = 7u << 8;
constexpr uint32_t kLevel = 1u << 15;
}  // namespace

TEST(LapicLint, Lint1AsNmiFiresOnAssertion) {
  Lapic l = enabled_lapic();
  l.set_lint(1, true);  // masked: nothing
  EXPECT_FALSE(l.has_wake_event());
  l.set_lint(1, false);
  l.write(reg::kLvtLint1, kNmiMode, 0);
  EXPECT_EQ(l.lvt(Lvt::Lint1), kNmiMode);
  l.set_lint(1, true);
  EXPECT_TRUE(l.take_nmi());
  l.set_lint(1, true);  // still asserted: no new edge
  EXPECT_FALSE(l.take_nmi());
  l.set_lint(1, false);
  l.set_lint(1, true);
  EXPECT_TRUE(l.take_nmi());
}

TEST(LapicLint, Lint0ExtIntLatches) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtLint0, kExtIntMode, 0);
  l.set_lint(0, true);
  EXPECT_TRUE(l.has_wake_event());
  EXPECT_TRUE(l.take_extint());
  EXPECT_FALSE(l.take_extint());
}

TEST(LapicLint, LevelFixedUsesRemoteIrrUntilEoi) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtLint0, kLevel | 0x55, 0);
  l.set_lint(0, true);
  EXPECT_EQ(l.read(reg::kLvtLint0, 0), kLevel | reg::kLvtRemoteIrr | 0x55);
  ASSERT_EQ(take(l), 0x55);
  l.set_lint(0, true);  // Remote IRR set: not sent again
  EXPECT_FALSE(l.pending_vector());
  eoi(l);  // line still asserted: sent again
  EXPECT_EQ(l.take_level_eoi(), 0x55);
  ASSERT_EQ(take(l), 0x55);
  l.set_lint(0, false);
  eoi(l);
  EXPECT_EQ(l.read(reg::kLvtLint0, 0), kLevel | 0x55);
  EXPECT_FALSE(l.pending_vector());
}

TEST(LapicLint, UnmaskingAnAssertedLevelLineSends) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtLint0, reg::kLvtMasked | kLevel | 0x66, 0);
  l.set_lint(0, true);
  EXPECT_FALSE(l.pending_vector());
  l.write(reg::kLvtLint0, kLevel | 0x66, 0);
  EXPECT_EQ(l.pending_vector(), 0x66);
}
