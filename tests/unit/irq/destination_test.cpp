#include <gtest/gtest.h>

#include <vector>

#include "irq/destination.hpp"
#include "lapic_fixture.hpp"

using namespace amalgam::irq;
using namespace amalgam::irq::test;

namespace {

using Indices = std::vector<size_t>;

// Four enabled LAPICs with IDs 0..3 (index = ID).
class Destinations : public ::testing::Test {
 protected:
  Destinations() {
    for (uint32_t id = 0; id < 4; ++id) lapics_.push_back(enabled_lapic(id, id == 0));
  }

  Indices resolve(const InterruptMessage& m, std::optional<size_t> source = std::nullopt) {
    std::vector<const Lapic*> ptrs;
    for (auto& l : lapics_) ptrs.push_back(&l);
    return resolve_destinations(m, ptrs, source);
  }

  void set_ldr(size_t i, uint8_t logical_id, bool flat) {
    lapics_[i].write(reg::kDfr, flat ? 0xFFFF'FFFF : 0x0FFF'FFFF, 0);
    lapics_[i].write(reg::kLdr, static_cast<uint32_t>(logical_id) << 24, 0);
  }

  static InterruptMessage to(uint32_t destination, bool logical = false,
                             DeliveryMode mode = DeliveryMode::Fixed, uint8_t vector = 0x40) {
    return InterruptMessage{
        .mode = mode, .vector = vector, .logical_destination = logical, .destination = destination};
  }

  static InterruptMessage shorthand(Shorthand s) {
    return InterruptMessage{.mode = DeliveryMode::Fixed, .vector = 0x40, .shorthand = s};
  }

  std::vector<Lapic> lapics_;
};

}  // namespace

TEST_F(Destinations, Physical) {
  EXPECT_EQ(resolve(to(2)), (Indices{2}));
  EXPECT_EQ(resolve(to(9)), (Indices{}));
  EXPECT_TRUE(lapics_[3].matches_physical(3));
  EXPECT_FALSE(lapics_[3].matches_physical(2));
}

TEST_F(Destinations, PhysicalBroadcast) {
  EXPECT_EQ(resolve(to(0xFF)), (Indices{0, 1, 2, 3}));
}

TEST_F(Destinations, LogicalFlat) {
  for (size_t i = 0; i < 4; ++i) set_ldr(i, static_cast<uint8_t>(1u << i), true);
  EXPECT_EQ(resolve(to(0b0101, true)), (Indices{0, 2}));
  EXPECT_EQ(resolve(to(0b1000, true)), (Indices{3}));
  EXPECT_EQ(resolve(to(0xF0, true)), (Indices{}));
  EXPECT_EQ(resolve(to(0xFF, true)), (Indices{0, 1, 2, 3}));
}

TEST_F(Destinations, LogicalCluster) {
  set_ldr(0, 0x11, false);  // cluster 1, bit 0
  set_ldr(1, 0x12, false);  // cluster 1, bit 1
  set_ldr(2, 0x21, false);  // cluster 2, bit 0
  set_ldr(3, 0x24, false);  // cluster 2, bit 2
  EXPECT_EQ(resolve(to(0x13, true)), (Indices{0, 1}));
  EXPECT_EQ(resolve(to(0x21, true)), (Indices{2}));
  EXPECT_EQ(resolve(to(0x25, true)), (Indices{2, 3}));
  EXPECT_EQ(resolve(to(0x31, true)), (Indices{}));
  EXPECT_EQ(resolve(to(0x02, true)), (Indices{}));  // cluster 0 holds nobody
  EXPECT_EQ(resolve(to(0xFF, true)), (Indices{0, 1, 2, 3}));
  EXPECT_FALSE(lapics_[0].matches_logical(0x21));
}

TEST_F(Destinations, Shorthands) {
  EXPECT_EQ(resolve(shorthand(Shorthand::Self), 1), (Indices{1}));
  EXPECT_EQ(resolve(shorthand(Shorthand::Self)), (Indices{}));
  EXPECT_EQ(resolve(shorthand(Shorthand::AllIncludingSelf), 1), (Indices{0, 1, 2, 3}));
  EXPECT_EQ(resolve(shorthand(Shorthand::AllExcludingSelf), 1), (Indices{0, 2, 3}));
  EXPECT_EQ(resolve(shorthand(Shorthand::AllExcludingSelf)), (Indices{0, 1, 2, 3}));
}

TEST_F(Destinations, ShorthandIgnoresTheDestinationField) {
  InterruptMessage m = shorthand(Shorthand::AllExcludingSelf);
  m.destination = 2;
  EXPECT_EQ(resolve(m, 0), (Indices{1, 2, 3}));
}

TEST_F(Destinations, GloballyDisabledApicsAreSkipped) {
  ASSERT_TRUE(lapics_[2].set_apic_base_msr(0xFEE0'0000));
  EXPECT_EQ(resolve(to(0xFF)), (Indices{0, 1, 3}));
  EXPECT_EQ(resolve(to(2)), (Indices{}));
}

TEST_F(Destinations, LowestPriorityPicksTheLowestTprClass) {
  lapics_[0].write(reg::kTpr, 0x40, 0);
  lapics_[1].write(reg::kTpr, 0x20, 0);
  lapics_[2].write(reg::kTpr, 0x2F, 0);  // same class as 1
  lapics_[3].write(reg::kTpr, 0x30, 0);
  for (size_t i = 0; i < 4; ++i) set_ldr(i, static_cast<uint8_t>(1u << i), true);
  // Ties go by vector: 0x40 % 2 = 0 -> index 1, 0x41 % 2 = 1 -> index 2.
  EXPECT_EQ(resolve(to(0x0F, true, DeliveryMode::LowestPriority, 0x40)), (Indices{1}));
  EXPECT_EQ(resolve(to(0x0F, true, DeliveryMode::LowestPriority, 0x41)), (Indices{2}));
  EXPECT_EQ(resolve(to(0x09, true, DeliveryMode::LowestPriority)), (Indices{3}));
  EXPECT_EQ(resolve(to(0x00, true, DeliveryMode::LowestPriority)), (Indices{}));
}

TEST_F(Destinations, LowestPriorityPrefersTheFocusAndSkipsDisabled) {
  lapics_[0].write(reg::kSvr, 0xFF, 0);  // software-disabled: not a candidate
  lapics_[3].deliver(fixed(0x70));       // 0x70 pending on 3: the focus
  EXPECT_EQ(resolve(to(0xFF, false, DeliveryMode::LowestPriority, 0x70)), (Indices{3}));
  lapics_[3].write(reg::kSvr, 0x3FF, 0);  // focus checking disabled
  EXPECT_EQ(resolve(to(0xFF, false, DeliveryMode::LowestPriority, 0x70)), (Indices{2}));  // 0x70 % 3 = 1
}
