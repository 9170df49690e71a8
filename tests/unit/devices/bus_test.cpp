#include "devices/bus.hpp"

#include <gtest/gtest.h>

#include "devices/acpi_power.hpp"
#include "devices/debug_exit.hpp"

using namespace amalgam::devices;

namespace {
struct Recorder : Device {
  uint64_t last_offset = ~0ull;
  uint64_t last_value = 0;
  void read(uint64_t offset, std::span<uint8_t> data) override { store_le(data, 0x1122334455667788ull + offset); }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    last_offset = offset;
    last_value = load_le(data);
  }
};
}  // namespace

TEST(Bus, DecodesRangesAndPassesOffsets) {
  Bus bus("test");
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  bus.add(0x100, 8, a, "a");
  bus.add(0x10, 4, b, "b");
  uint8_t v[2] = {0x34, 0x12};
  EXPECT_TRUE(bus.write(0x103, v));
  EXPECT_EQ(a->last_offset, 3u);
  EXPECT_EQ(a->last_value, 0x1234u);
  uint8_t r[4];
  EXPECT_TRUE(bus.read(0x10, r));
  EXPECT_EQ(load_le(r), 0x55667788u);
}

TEST(Bus, UndecodedReadsAreAllOnesAndStraddlingFails) {
  Bus bus("test");
  bus.add(0x100, 8, std::make_shared<Recorder>(), "a");
  uint8_t r[4] = {};
  EXPECT_FALSE(bus.read(0x200, r));
  EXPECT_EQ(load_le(r), 0xFFFFFFFFu);
  EXPECT_FALSE(bus.read(0x106, r));  // runs past the end of the device
  uint8_t w[1] = {1};
  EXPECT_FALSE(bus.write(0xFF, w));
}

TEST(Bus, RejectsOverlaps) {
  Bus bus("test");
  bus.add(0x100, 8, std::make_shared<Recorder>(), "a");
  EXPECT_THROW(bus.add(0x104, 8, std::make_shared<Recorder>(), "b"), std::invalid_argument);
  EXPECT_NO_THROW(bus.add(0x108, 8, std::make_shared<Recorder>(), "c"));
}

TEST(DebugExit, WrittenValueBecomesStatusClampedTo255) {
  int status = -1;
  DebugExit dev([&](int s) { status = s; });
  uint8_t v[4] = {7, 0, 0, 0};
  dev.write(0, v);
  EXPECT_EQ(status, 7);
  uint8_t big[4] = {0, 1, 0, 0};
  dev.write(0, big);
  EXPECT_EQ(status, 255);
}

TEST(AcpiPower, SleepTypeS5WithEnablePowersOffAndResetValueResets) {
  int off = 0, reset = 0;
  AcpiPower dev(5, 1, [&] { off++; }, [&] { reset++; });
  uint8_t s5_no_enable = 5 << 2;
  dev.write(AcpiPower::kControl, {&s5_no_enable, 1});
  uint8_t s3 = (3 << 2) | (1 << 5);
  dev.write(AcpiPower::kControl, {&s3, 1});
  EXPECT_EQ(off, 0);
  uint8_t s5 = (5 << 2) | (1 << 5);
  dev.write(AcpiPower::kControl, {&s5, 1});
  EXPECT_EQ(off, 1);
  uint8_t wrong = 2, right = 1;
  dev.write(AcpiPower::kReset, {&wrong, 1});
  EXPECT_EQ(reset, 0);
  dev.write(AcpiPower::kReset, {&right, 1});
  EXPECT_EQ(reset, 1);
}
