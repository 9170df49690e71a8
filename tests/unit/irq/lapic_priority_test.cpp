#include <gtest/gtest.h>

#include "lapic_fixture.hpp"

using namespace amalgam::irq;
using namespace amalgam::irq::test;

TEST(LapicPriority, PprFollowsTprAndIsr) {  // SDM 11.8.3.1
  Lapic l = enabled_lapic();
  l.write(reg::kTpr, 0x35, 0);
  EXPECT_EQ(l.read(reg::kPpr, 0), 0x35u);  // nothing in service: PPR = TPR
  l.deliver(fixed(0x51));
  ASSERT_EQ(take(l), 0x51);
  EXPECT_EQ(l.read(reg::kPpr, 0), 0x50u);  // ISR class above TPR: class, sub-class 0
  l.write(reg::kTpr, 0x57, 0);
  EXPECT_EQ(l.read(reg::kPpr, 0), 0x57u);  // same class: TPR
  l.write(reg::kTpr, 0x20, 0);
  eoi(l);
  EXPECT_EQ(l.read(reg::kPpr, 0), 0x20u);
}

TEST(LapicPriority, TprGatesPendingVectorsByClass) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(0x45));
  l.write(reg::kTpr, 0x40, 0);
  EXPECT_FALSE(l.pending_vector());  // same class as TPR: held
  EXPECT_FALSE(l.has_wake_event());
  l.write(reg::kTpr, 0x3F, 0);
  EXPECT_EQ(l.pending_vector(), 0x45);
  EXPECT_TRUE(l.has_wake_event());
}

TEST(LapicPriority, HighestIrrVectorFirst) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(0x31));
  l.deliver(fixed(0x90));
  l.deliver(fixed(0x3F));
  EXPECT_EQ(l.pending_vector(), 0x90);
  l.acknowledge(0x90);
  EXPECT_EQ(l.read(reg::kIrr + 0x40, 0), 0u);
  EXPECT_EQ(l.read(reg::kIsr + 0x40, 0), 1u << 16);  // 0x90: word 4, bit 16
  EXPECT_EQ(l.pending_vector(), std::nullopt);     // 0x3F and 0x31 are below class 9
}

TEST(LapicPriority, InServiceClassBlocksSameAndLowerClasses) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(0x60));
  ASSERT_EQ(take(l), 0x60);
  l.deliver(fixed(0x6F));  // same class
  l.deliver(fixed(0x30));  // lower class
  EXPECT_FALSE(l.pending_vector());
  eoi(l);
  EXPECT_EQ(take(l), 0x6F);
  eoi(l);
  EXPECT_EQ(take(l), 0x30);
}

TEST(LapicPriority, NestedInterruptsRetireInPriorityOrder) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(0x40));
  ASSERT_EQ(take(l), 0x40);
  l.deliver(fixed(0x80));  // higher class preempts
  ASSERT_EQ(take(l), 0x80);
  l.deliver(fixed(0xC0));
  ASSERT_EQ(take(l), 0xC0);
  EXPECT_EQ(l.read(reg::kPpr, 0), 0xC0u);
  eoi(l);  // retires 0xC0: the highest in service
  EXPECT_EQ(l.read(reg::kPpr, 0), 0x80u);
  EXPECT_EQ(l.read(reg::kIsr + 0x40, 0), 1u);  // 0x80 still in service
  eoi(l);
  EXPECT_EQ(l.read(reg::kPpr, 0), 0x40u);
  eoi(l);
  EXPECT_EQ(l.read(reg::kPpr, 0), 0u);
  eoi(l);  // nothing in service: no effect
  EXPECT_EQ(l.read(reg::kIsr + 0x20, 0), 0u);
}

TEST(LapicPriority, LevelTriggeredEoiIsReportedOnce) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(0x41, true));
  l.deliver(fixed(0x42, false));
  EXPECT_EQ(l.read(reg::kTmr + 0x20, 0), 0b10u);
  ASSERT_EQ(take(l), 0x42);
  eoi(l);
  EXPECT_FALSE(l.take_level_eoi());  // edge
  ASSERT_EQ(take(l), 0x41);
  eoi(l);
  EXPECT_EQ(l.take_level_eoi(), 0x41);
  EXPECT_FALSE(l.take_level_eoi());
}

TEST(LapicPriority, EdgeDeliveryClearsTmr) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(0x41, true));
  l.deliver(fixed(0x41, false));
  EXPECT_EQ(l.read(reg::kTmr + 0x20, 0), 0u);
}

TEST(LapicPriority, LevelDeassertMessageIsIgnored) {
  Lapic l = enabled_lapic();
  InterruptMessage m = fixed(0x41, true);
  m.assert_level = false;
  l.deliver(m);
  EXPECT_FALSE(l.pending_vector());
}

TEST(LapicEvents, NmiInitSipiAreLatchedAndTakenOnce) {
  Lapic l = make_lapic();  // software-disabled: these still arrive
  EXPECT_FALSE(l.has_wake_event());
  l.deliver(InterruptMessage{.mode = DeliveryMode::Nmi});
  EXPECT_TRUE(l.has_wake_event());
  EXPECT_TRUE(l.take_nmi());
  EXPECT_FALSE(l.take_nmi());
  l.deliver(InterruptMessage{.mode = DeliveryMode::StartUp, .vector = 0x10});  // stale
  l.deliver(InterruptMessage{.mode = DeliveryMode::Init});
  EXPECT_FALSE(l.take_sipi());  // INIT dropped the earlier SIPI
  l.deliver(InterruptMessage{.mode = DeliveryMode::StartUp, .vector = 0x9A});
  EXPECT_TRUE(l.has_wake_event());
  EXPECT_TRUE(l.take_init());
  EXPECT_FALSE(l.take_init());
  EXPECT_EQ(l.take_sipi(), 0x9A);
  EXPECT_FALSE(l.take_sipi());
  EXPECT_FALSE(l.has_wake_event());
  l.deliver(InterruptMessage{.mode = DeliveryMode::Smi});
  EXPECT_FALSE(l.has_wake_event());
  l.deliver(InterruptMessage{.mode = DeliveryMode::ExtInt});
  EXPECT_TRUE(l.take_extint());
}

TEST(LapicEvents, InitResetsRegistersButKeepsIdAndBase) {
  Lapic l = enabled_lapic(5, false);
  l.write(reg::kId, 0x0900'0000, 0);
  l.write(reg::kTpr, 0x30, 0);
  l.write(reg::kLdr, 0x0100'0000, 0);
  l.write(reg::kDfr, 0x0FFF'FFFF, 0);
  l.write(reg::kLvtTimer, 0x0002'0040, 0);
  l.write(reg::kTimerInitialCount, 1000, 0);
  l.deliver(fixed(0x70, true));
  ASSERT_EQ(take(l), 0x70);
  l.deliver(fixed(0x80));
  l.deliver(InterruptMessage{.mode = DeliveryMode::Nmi});
  l.deliver(InterruptMessage{.mode = DeliveryMode::Init});
  ASSERT_TRUE(l.take_init());
  l.deliver(InterruptMessage{.mode = DeliveryMode::StartUp, .vector = 0x12});
  uint64_t base = l.apic_base_msr();
  l.reset();
  EXPECT_EQ(l.id(), 9u);
  EXPECT_EQ(l.apic_base_msr(), base);
  EXPECT_EQ(l.read(reg::kTpr, 0), 0u);
  EXPECT_EQ(l.read(reg::kLdr, 0), 0u);
  EXPECT_EQ(l.read(reg::kDfr, 0), 0xFFFF'FFFFu);
  EXPECT_EQ(l.read(reg::kSvr, 0), 0xFFu);
  EXPECT_EQ(l.read(reg::kLvtTimer, 0), reg::kLvtMasked);
  EXPECT_EQ(l.read(reg::kTimerInitialCount, 0), 0u);
  EXPECT_FALSE(l.next_timer_deadline_ns());
  EXPECT_EQ(l.read(reg::kIsr + 0x30, 0), 0u);
  EXPECT_EQ(l.read(reg::kIrr + 0x40, 0), 0u);
  EXPECT_EQ(l.read(reg::kTmr + 0x30, 0), 0u);
  EXPECT_FALSE(l.take_nmi());
  EXPECT_EQ(l.take_sipi(), 0x12);  // the SIPI that follows the INIT survives
}
