#include <gtest/gtest.h>

#include "irq/ioapic.hpp"

using namespace amalgam::irq;

namespace {

using Messages = std::vector<InterruptMessage>;

constexpr uint32_t kLevel = 1u << 15;
constexpr uint32_t kMask = 1u << 16;
constexpr uint32_t kRemoteIrr = 1u << 14;

uint32_t read_reg(Ioapic& io, uint32_t index) {
  io.write(Ioapic::kRegSel, index);
  return io.read(Ioapic::kWindow);
}

Messages write_reg(Ioapic& io, uint32_t index, uint32_t value) {
  io.write(Ioapic::kRegSel, index);
  return io.write(Ioapic::kWindow, value);
}

Messages program(Ioapic& io, unsigned pin, uint32_t low, uint8_t dest) {
  write_reg(io, 0x11 + 2 * pin, static_cast<uint32_t>(dest) << 24);
  return write_reg(io, 0x10 + 2 * pin, low);
}

}  // namespace

TEST(Ioapic, IdVersionArbitration) {
  Ioapic io(2);
  EXPECT_EQ(read_reg(io, 0x00), 0x0200'0000u);
  EXPECT_EQ(read_reg(io, 0x01), 0x0017'0020u);
  EXPECT_EQ(read_reg(io, 0x02), 0x0200'0000u);
  write_reg(io, 0x00, 0xFFFF'FFFF);
  EXPECT_EQ(read_reg(io, 0x00), 0x0F00'0000u);
  EXPECT_EQ(io.id(), 0xF);
  write_reg(io, 0x01, 0);
  write_reg(io, 0x02, 0);
  EXPECT_EQ(read_reg(io, 0x01), 0x0017'0020u);
  EXPECT_EQ(read_reg(io, 0x02), 0x0F00'0000u);
}

TEST(Ioapic, RegSelReadsBackAndUnknownRegistersReadZero) {
  Ioapic io(0);
  io.write(Ioapic::kRegSel, 0x1FF);
  EXPECT_EQ(io.read(Ioapic::kRegSel), 0xFFu);
  EXPECT_EQ(io.read(Ioapic::kWindow), 0u);
  EXPECT_EQ(read_reg(io, 0x40), 0u);  // past pin 23
  EXPECT_EQ(io.read(0x20), 0u);
}

TEST(Ioapic, RedirectionEntriesPowerUpMaskedAndKeepWritableBits) {
  Ioapic io(0);
  for (unsigned pin = 0; pin < Ioapic::kPins; ++pin) {
    EXPECT_EQ(read_reg(io, 0x10 + 2 * pin), kMask);
    EXPECT_EQ(read_reg(io, 0x11 + 2 * pin), 0u);
  }
  write_reg(io, 0x10 + 2 * 23, 0xFFFF'FFFF);
  write_reg(io, 0x11 + 2 * 23, 0xFFFF'FFFF);
  // Delivery status (12) and Remote IRR (14) are read-only; 31:17 reserved.
  EXPECT_EQ(read_reg(io, 0x10 + 2 * 23), 0x0001'AFFFu);
  EXPECT_EQ(read_reg(io, 0x11 + 2 * 23), 0xFF00'0000u);
  EXPECT_EQ(io.redirection(23), 0xFF00'0000'0001'AFFFull);
}

TEST(Ioapic, MaskedPinsDoNotDeliver) {
  Ioapic io(0);
  EXPECT_TRUE(io.set_irq(4, true).empty());
  EXPECT_TRUE(io.set_irq(4, false).empty());
  program(io, 4, kMask | 0x34, 0);
  EXPECT_TRUE(io.set_irq(4, true).empty());
  EXPECT_TRUE(io.set_irq(99, true).empty());  // no such pin
}

TEST(Ioapic, EdgeDeliversOnRisingOnly) {
  Ioapic io(0);
  program(io, 1, 0x31, 3);
  Messages m = io.set_irq(1, true);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (InterruptMessage{.mode = DeliveryMode::Fixed, .vector = 0x31, .destination = 3}));
  EXPECT_TRUE(io.set_irq(1, true).empty());
  EXPECT_TRUE(io.set_irq(1, false).empty());
  EXPECT_EQ(io.set_irq(1, true).size(), 1u);
  EXPECT_EQ(read_reg(io, 0x12) & (kRemoteIrr | kDeliveryStatus), 0u);
}

TEST(Ioapic, EdgeWhileMaskedIsLost) {
  Ioapic io(0);
  program(io, 1, kMask | 0x31, 0);
  io.set_irq(1, true);
  EXPECT_TRUE(program(io, 1, 0x31, 0).empty());
}

TEST(Ioapic, LevelHoldsRemoteIrrUntilEoi) {
  Ioapic io(0);
  program(io, 9, kLevel | (1u << 11) | (1u << 8) | 0x49, 0x0F);
  Messages m = io.set_irq(9, true);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (InterruptMessage{.mode = DeliveryMode::LowestPriority,
                                    .vector = 0x49,
                                    .logical_destination = true,
                                    .destination = 0x0F,
                                    .level_triggered = true}));
  EXPECT_TRUE(read_reg(io, 0x10 + 18) & kRemoteIrr);
  EXPECT_TRUE(io.set_irq(9, true).empty());  // Remote IRR set
  io.set_irq(9, false);
  EXPECT_TRUE(io.eoi(0x49).empty());  // line low: nothing to re-send
  EXPECT_FALSE(read_reg(io, 0x10 + 18) & kRemoteIrr);
  EXPECT_EQ(io.set_irq(9, true).size(), 1u);
}

TEST(Ioapic, EoiReDeliversWhileStillAsserted) {
  Ioapic io(0);
  program(io, 9, kLevel | 0x49, 0);
  ASSERT_EQ(io.set_irq(9, true).size(), 1u);
  EXPECT_TRUE(io.eoi(0x48).empty());  // another vector: no effect
  EXPECT_EQ(io.eoi(0x49).size(), 1u);
  EXPECT_TRUE(read_reg(io, 0x10 + 18) & kRemoteIrr);
  EXPECT_EQ(io.write(Ioapic::kEoi, 0x49).size(), 1u);  // the EOI register (0x40)
}

TEST(Ioapic, UnmaskingAnAssertedLevelPinDelivers) {
  Ioapic io(0);
  program(io, 5, kMask | kLevel | 0x50, 0);
  EXPECT_TRUE(io.set_irq(5, true).empty());
  EXPECT_EQ(program(io, 5, kLevel | 0x50, 0).size(), 1u);
  EXPECT_TRUE(program(io, 5, kLevel | 0x50, 0).empty());  // Remote IRR set now
}

TEST(Ioapic, DeliveryStatusShowsAHeldLevelInterrupt) {
  Ioapic io(0);
  program(io, 5, kMask | kLevel | 0x50, 0);
  EXPECT_FALSE(read_reg(io, 0x1A) & kDeliveryStatus);
  io.set_irq(5, true);
  EXPECT_TRUE(read_reg(io, 0x1A) & kDeliveryStatus);  // masked: cannot send
  program(io, 5, kLevel | 0x50, 0);
  EXPECT_TRUE(read_reg(io, 0x1A) & kDeliveryStatus);  // sent; the next waits for the EOI
  io.set_irq(5, false);
  EXPECT_FALSE(read_reg(io, 0x1A) & kDeliveryStatus);
  write_reg(io, 0x1A, kLevel | kDeliveryStatus | 0x50);  // read-only
  EXPECT_FALSE(read_reg(io, 0x1A) & kDeliveryStatus);
}

TEST(Ioapic, SwitchingToEdgeClearsRemoteIrr) {
  Ioapic io(0);
  program(io, 2, kLevel | 0x60, 0);
  io.set_irq(2, true);
  program(io, 2, 0x60, 0);
  EXPECT_FALSE(read_reg(io, 0x14) & kRemoteIrr);
}

TEST(Ioapic, NmiEntriesAreEdgeTriggered) {
  Ioapic io(0);
  program(io, 3, kLevel | (4u << 8), 0);
  Messages m = io.set_irq(3, true);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].mode, DeliveryMode::Nmi);
  EXPECT_FALSE(m[0].level_triggered);
  EXPECT_FALSE(read_reg(io, 0x16) & kRemoteIrr);
  EXPECT_TRUE(io.set_irq(3, true).empty());
}

TEST(Ioapic, ReservedDeliveryModesSendNothing) {
  Ioapic io(0);
  program(io, 6, 3u << 8 | 0x40, 0);
  EXPECT_TRUE(io.set_irq(6, true).empty());
  program(io, 7, 6u << 8 | 0x40, 0);
  EXPECT_TRUE(io.set_irq(7, true).empty());
}
