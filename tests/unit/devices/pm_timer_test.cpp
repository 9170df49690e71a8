#include "devices/pm_timer.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace amalgam::devices {
namespace {

uint32_t read32(PmTimer& t, uint64_t offset = 0) {
  uint8_t b[4] = {};
  t.read(offset, b);
  return static_cast<uint32_t>(load_le(b));
}

TEST(PmTimer, CountsAt3579545HzFromZero) {
  uint64_t now = 5'000'000'000;  // the host clock need not start at zero
  PmTimer t([&] { return now; });
  EXPECT_EQ(read32(t), 0u);
  now += 1'000'000;  // 1 ms: 3579.545 ticks
  EXPECT_EQ(read32(t), 3579u);
  now = 5'000'000'000 + 1'000'000'000;
  EXPECT_EQ(read32(t), 3'579'545u);
}

TEST(PmTimer, WrapsAt24Bits) {
  // 2^24 ticks take 4.687 s.
  EXPECT_EQ(PmTimer::ticks_at(4'000'000'000), 14'318'180u);
  EXPECT_EQ(PmTimer::ticks_at(5'000'000'000), (5u * 3'579'545u) & PmTimer::kMask);
  EXPECT_LE(PmTimer::ticks_at(1'000'000'000'000'000ull), PmTimer::kMask);  // no overflow after 11 days
}

TEST(PmTimer, NarrowReadsSeeTheRightBytesAndWritesAreIgnored) {
  uint64_t now = 0;
  PmTimer t([&] { return now; });
  now = 1'000'000'000;  // 0x369E99
  uint8_t low[2] = {};
  t.read(0, low);
  EXPECT_EQ(load_le(low), 0x9E99u);
  uint8_t high[1] = {};
  t.read(2, high);
  EXPECT_EQ(high[0], 0x36);
  uint8_t junk[4] = {1, 2, 3, 4};
  t.write(0, junk);
  EXPECT_EQ(read32(t), 0x369E99u);
}

}  // namespace
}  // namespace amalgam::devices
