#include <gtest/gtest.h>

#include "common/error.hpp"
#include "memory/e820.hpp"
#include "memory/guest_memory.hpp"
#include "memory/layout.hpp"

using namespace amalgam::memory;

TEST(Layout, SmallRamIsOneRangeBelowTheHole) {
  Layout l(256ull << 20);
  ASSERT_EQ(l.ram().size(), 1u);
  EXPECT_EQ(l.ram()[0].gpa, 0u);
  EXPECT_EQ(l.ram()[0].size, 256ull << 20);
}

TEST(Layout, LargeRamSkipsTheMmioHole) {
  Layout l(64ull << 30);
  ASSERT_EQ(l.ram().size(), 2u);
  EXPECT_EQ(l.ram()[0].end(), kMmioHoleStart);
  EXPECT_EQ(l.ram()[1].gpa, kMmioHoleEnd);
  EXPECT_EQ(l.ram()[0].size + l.ram()[1].size, 64ull << 30);
  EXPECT_FALSE(l.is_ram(kLapicBase, 4));
  EXPECT_FALSE(l.is_ram(kMmioHoleStart - 2, 4));
  EXPECT_TRUE(l.is_ram(kMmioHoleEnd, 4096));
  EXPECT_EQ(l.ram_offset_to_gpa(kMmioHoleStart), kMmioHoleEnd);
}

TEST(Layout, RejectsAbsurdSizes) {
  EXPECT_THROW(Layout(0), amalgam::UsageError);
  EXPECT_THROW(Layout(1ull << 50), amalgam::UsageError);
  EXPECT_THROW(Layout((64ull << 20) + 1), amalgam::UsageError);
}

TEST(E820, CoversRamAndReservesTheHole) {
  Layout l(8ull << 30);
  auto map = build_e820(l);
  uint64_t ram = 0;
  for (size_t i = 0; i < map.size(); ++i) {
    if (i > 0) {
      EXPECT_LE(map[i - 1].addr + map[i - 1].size, map[i].addr);
    }
    if (map[i].type == E820Type::Ram) ram += map[i].size;
  }
  // Everything but the legacy area between 0x9FC00 and 1 MiB is usable RAM.
  EXPECT_EQ(ram, (8ull << 30) - (kOneMiB - kLowRamEnd));
  EXPECT_EQ(map.front(), (E820Entry{0, kLowRamEnd, E820Type::Ram}));
  bool hole = false;
  for (auto& e : map)
    if (e.addr == kMmioHoleStart && e.type == E820Type::Reserved) hole = true;
  EXPECT_TRUE(hole);
}

TEST(GuestMemory, ReadsBackWhatItWroteAndChecksBounds) {
  GuestMemory mem(Layout(8ull << 30));
  uint32_t v = 0xdeadbeef;
  mem.write_object(kMmioHoleEnd + 16, v);
  EXPECT_EQ(mem.read_object<uint32_t>(kMmioHoleEnd + 16), v);
  EXPECT_THROW(mem.write_object(kMmioHoleStart - 2, v), std::out_of_range);
  EXPECT_THROW(mem.read_object<uint32_t>(kLapicBase), std::out_of_range);
}
