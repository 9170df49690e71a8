#include <gtest/gtest.h>

#include "lapic_fixture.hpp"

using namespace amalgam::irq;
using namespace amalgam::irq::test;

namespace {

std::optional<InterruptMessage> send(Lapic& l, uint32_t high, uint32_t low) {
  l.write(reg::kIcrHigh, high, 0);
  return l.write(reg::kIcrLow, low, 0);
}

}  // namespace

TEST(Icr, FixedPhysical) {
  Lapic l = enabled_lapic(4);
  auto m = send(l, 0x0300'0000, 0x0000'40FD);
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (InterruptMessage{.mode = DeliveryMode::Fixed,
                                  .vector = 0xFD,
                                  .logical_destination = false,
                                  .destination = 3,
                                  .shorthand = Shorthand::None,
                                  .level_triggered = false,
                                  .assert_level = true,
                                  .source_apic_id = 4}));
}

TEST(Icr, FixedLogicalLevelTriggered) {
  Lapic l = enabled_lapic(1);
  auto m = send(l, 0x0F00'0000, 0x0000'C830);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->logical_destination);
  EXPECT_EQ(m->destination, 0x0Fu);
  EXPECT_TRUE(m->level_triggered);
  EXPECT_TRUE(m->assert_level);
  EXPECT_EQ(m->vector, 0x30);
}

TEST(Icr, Nmi) {
  Lapic l = enabled_lapic();
  auto m = send(l, 0x0200'0000, 0x0000'4400);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mode, DeliveryMode::Nmi);
  EXPECT_EQ(m->destination, 2u);
}

TEST(Icr, InitAssertAndDeassert) {
  Lapic l = enabled_lapic();
  auto m = send(l, 0x0100'0000, 0x0000'C500);  // INIT, level assert
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mode, DeliveryMode::Init);
  EXPECT_EQ(m->destination, 1u);
  EXPECT_TRUE(m->level_triggered);
  EXPECT_TRUE(m->assert_level);
  EXPECT_FALSE(send(l, 0x0100'0000, 0x0000'8500));  // INIT level de-assert: nothing
}

TEST(Icr, StartUpCarriesTheVector) {
  Lapic l = enabled_lapic();
  auto m = send(l, 0x0100'0000, 0x0000'4609);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mode, DeliveryMode::StartUp);
  EXPECT_EQ(m->vector, 0x09);  // legal for SIPI: the page number
}

TEST(Icr, Shorthands) {
  Lapic l = enabled_lapic();
  EXPECT_EQ(send(l, 0, 0x0004'4040)->shorthand, Shorthand::Self);
  EXPECT_EQ(send(l, 0, 0x0008'4500)->shorthand, Shorthand::AllIncludingSelf);
  EXPECT_EQ(send(l, 0, 0x000C'4500)->shorthand, Shorthand::AllExcludingSelf);
}

TEST(Icr, ReservedDeliveryModeSendsNothing) {
  Lapic l = enabled_lapic();
  EXPECT_FALSE(send(l, 0, 0x0000'4340));
}

TEST(Icr, EncodeDecodeRoundTrip) {
  InterruptMessage m{.mode = DeliveryMode::LowestPriority,
                     .vector = 0x61,
                     .logical_destination = true,
                     .destination = 0x24,
                     .shorthand = Shorthand::None,
                     .level_triggered = true,
                     .assert_level = true,
                     .source_apic_id = 7};
  auto [low, high] = encode_icr(m);
  EXPECT_EQ(low, 0x0000'C961u);
  EXPECT_EQ(high, 0x2400'0000u);
  EXPECT_EQ(decode_icr(low, high, 7), m);
}

TEST(Icr, DecodeRedirectionEntry) {
  InterruptMessage m = decode_redirection(0x0500'0000'0000'A931ull);
  EXPECT_EQ(m.vector, 0x31);
  EXPECT_EQ(m.mode, DeliveryMode::LowestPriority);
  EXPECT_TRUE(m.logical_destination);
  EXPECT_TRUE(m.level_triggered);
  EXPECT_EQ(m.destination, 5u);
  EXPECT_EQ(m.shorthand, Shorthand::None);
  EXPECT_EQ(m.source_apic_id, kNoSourceApic);
}

TEST(Icr, SelfIpiRoundTripsThroughDeliver) {
  Lapic l = enabled_lapic();
  auto m = send(l, 0, 0x0004'4041);
  ASSERT_TRUE(m);
  l.deliver(*m);
  EXPECT_EQ(l.pending_vector(), 0x41);
}
