#include <gtest/gtest.h>

#include "lapic_fixture.hpp"

using namespace amalgam::irq;
using namespace amalgam::irq::test;

TEST(LapicRegisters, PowerUpValues) {
  Lapic l = make_lapic(3, false);
  EXPECT_EQ(l.read(reg::kId, 0), 3u << 24);
  EXPECT_EQ(l.read(reg::kVersion, 0), 0x0005'0014u);
  EXPECT_EQ(l.read(reg::kTpr, 0), 0u);
  EXPECT_EQ(l.read(reg::kApr, 0), 0u);
  EXPECT_EQ(l.read(reg::kPpr, 0), 0u);
  EXPECT_EQ(l.read(reg::kLdr, 0), 0u);
  EXPECT_EQ(l.read(reg::kDfr, 0), 0xFFFF'FFFFu);
  EXPECT_EQ(l.read(reg::kSvr, 0), 0xFFu);
  EXPECT_FALSE(l.software_enabled());
  for (uint32_t off = reg::kLvtTimer; off <= reg::kLvtError; off += 0x10) {
    EXPECT_EQ(l.read(off, 0), reg::kLvtMasked) << std::hex << off;
  }
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(l.read(reg::kIsr + 0x10 * i, 0), 0u);
    EXPECT_EQ(l.read(reg::kTmr + 0x10 * i, 0), 0u);
    EXPECT_EQ(l.read(reg::kIrr + 0x10 * i, 0), 0u);
  }
  EXPECT_EQ(l.read(reg::kTimerInitialCount, 0), 0u);
  EXPECT_EQ(l.read(reg::kTimerCurrentCount, 0), 0u);
  EXPECT_EQ(l.read(reg::kTimerDivideConfig, 0), 0u);
  EXPECT_EQ(l.apic_base_msr(), 0xFEE0'0000u | reg::kApicBaseEnable);
  EXPECT_EQ(make_lapic(0, true).apic_base_msr(), 0xFEE0'0000u | reg::kApicBaseEnable | reg::kApicBaseBsp);
}

TEST(LapicRegisters, WritableBitsOnly) {
  Lapic l = make_lapic();
  l.write(reg::kTpr, 0xFFFF'FFFF, 0);
  EXPECT_EQ(l.read(reg::kTpr, 0), 0xFFu);
  l.write(reg::kLdr, 0xFFFF'FFFF, 0);
  EXPECT_EQ(l.read(reg::kLdr, 0), 0xFF00'0000u);
  l.write(reg::kDfr, 0, 0);
  EXPECT_EQ(l.read(reg::kDfr, 0), 0x0FFF'FFFFu);
  l.write(reg::kSvr, 0xFFFF'FFFF, 0);
  EXPECT_EQ(l.read(reg::kSvr, 0), 0x3FFu);
  l.write(reg::kIcrHigh, 0xFFFF'FFFF, 0);
  EXPECT_EQ(l.read(reg::kIcrHigh, 0), 0xFF00'0000u);
  l.write(reg::kTimerDivideConfig, 0xFFFF'FFFF, 0);
  EXPECT_EQ(l.read(reg::kTimerDivideConfig, 0), 0xBu);
  l.write(reg::kId, 0x0700'0000, 0);
  EXPECT_EQ(l.id(), 7u);
  EXPECT_EQ(l.read(reg::kId, 0), 0x0700'0000u);
}

TEST(LapicRegisters, ReadOnlyRegistersIgnoreWrites) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(0x40));
  for (uint32_t off : {reg::kVersion, reg::kApr, reg::kPpr, reg::kTimerCurrentCount}) {
    uint32_t before = l.read(off, 0);
    EXPECT_FALSE(l.write(off, 0xFFFF'FFFF, 0));
    EXPECT_EQ(l.read(off, 0), before) << std::hex << off;
  }
  l.write(reg::kIrr + 0x20, 0, 0);
  EXPECT_EQ(l.read(reg::kIrr + 0x20, 0), 1u);  // vector 0x40: word 2, bit 0
  l.write(reg::kEsr, 0, 0);
  EXPECT_EQ(l.read(reg::kEsr, 0), 0u);  // none of that was an error
}

TEST(LapicRegisters, LvtWritableBits) {
  Lapic l = enabled_lapic();
  const std::pair<uint32_t, uint32_t> expected[] = {
      {reg::kLvtTimer, 0x0003'00FF},  // mode 3 is reserved: stays one-shot
      {reg::kLvtThermal, 0x0001'07FF},
      {reg::kLvtPerf, 0x0001'07FF},
      {reg::kLvtLint0, 0x0001'A7FF},
      {reg::kLvtLint1, 0x0001'A7FF},
      {reg::kLvtError, 0x0001'00FF},
  };
  for (auto [off, value] : expected) {
    l.write(off, 0xFFFF'FFFF, 0);
    EXPECT_EQ(l.read(off, 0), value & ~(3u << 17)) << std::hex << off;
  }
  l.write(reg::kLvtTimer, 0x0004'0030, 0);  // TSC-deadline
  EXPECT_EQ(l.read(reg::kLvtTimer, 0), 0x0004'0030u);
  l.write(reg::kLvtTimer, 0x0006'0030, 0);  // reserved mode: keeps TSC-deadline
  EXPECT_EQ(l.read(reg::kLvtTimer, 0), 0x0004'0030u);
}

TEST(LapicRegisters, IcrReadsBackWithDeliveryStatusIdle) {
  Lapic l = enabled_lapic();
  l.write(reg::kIcrHigh, 0x0200'0000, 0);
  l.write(reg::kIcrLow, 0xFFFF'FFFF & ~0x700u, 0);  // fixed, vector 0xFF, every bit else
  EXPECT_EQ(l.read(reg::kIcrLow, 0), 0x000C'CFFFu & ~0x700u);
  EXPECT_EQ(l.read(reg::kIcrLow, 0) & kDeliveryStatus, 0u);
  EXPECT_EQ(l.read(reg::kIcrHigh, 0), 0x0200'0000u);
}

TEST(LapicRegisters, UnimplementedRegisterSetsEsrBit7) {
  Lapic l = enabled_lapic();
  EXPECT_EQ(l.read(0x3F0, 0), 0u);
  l.write(0x2F0, 1, 0);
  l.write(reg::kEsr, 0, 0);
  EXPECT_EQ(l.read(reg::kEsr, 0), reg::kEsrIllegalRegister);
  EXPECT_EQ(l.read(reg::kTpr + 4, 0), 0u);  // not on a 16-byte boundary
}

TEST(LapicRegisters, EsrIsWriteThenRead) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(5));  // illegal vector received
  EXPECT_EQ(l.read(reg::kEsr, 0), 0u);  // not latched until written
  l.write(reg::kEsr, 0, 0);
  EXPECT_EQ(l.read(reg::kEsr, 0), reg::kEsrReceiveIllegalVector);
  EXPECT_EQ(l.read(reg::kEsr, 0), reg::kEsrReceiveIllegalVector);  // reads do not clear
  l.write(reg::kEsr, 0, 0);
  EXPECT_EQ(l.read(reg::kEsr, 0), 0u);
}

TEST(LapicRegisters, IllegalVectorsAreNeverPending) {
  Lapic l = enabled_lapic();
  for (uint8_t v = 0; v < 16; ++v) l.deliver(fixed(v));
  EXPECT_EQ(l.read(reg::kIrr, 0), 0u);
  EXPECT_FALSE(l.pending_vector());
  l.deliver(fixed(16));
  EXPECT_EQ(l.read(reg::kIrr, 0), 1u << 16);
}

TEST(LapicRegisters, SendingIllegalVectorSetsEsrBit5AndSendsNothing) {
  Lapic l = enabled_lapic();
  EXPECT_FALSE(l.write(reg::kIcrLow, 0x0000'4000 | 15, 0));
  EXPECT_TRUE(l.write(reg::kIcrLow, 0x0000'4400 | 2, 0));  // NMI: the vector does not matter
  l.write(reg::kEsr, 0, 0);
  EXPECT_EQ(l.read(reg::kEsr, 0), reg::kEsrSendIllegalVector);
}

TEST(LapicRegisters, ErrorsRaiseTheLvtErrorInterrupt) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtError, 0xFE, 0);
  l.deliver(fixed(3));
  EXPECT_EQ(l.pending_vector(), 0xFE);
  // An illegal error vector records itself instead of recursing.
  Lapic m = enabled_lapic();
  m.write(reg::kLvtError, 0x02, 0);
  m.read(0x3F0, 0);
  m.write(reg::kEsr, 0, 0);
  EXPECT_EQ(m.read(reg::kEsr, 0), reg::kEsrIllegalRegister | reg::kEsrReceiveIllegalVector);
  EXPECT_FALSE(m.pending_vector());
}

TEST(LapicRegisters, SoftwareDisableMasksLvtsAndKeepsThemMasked) {
  Lapic l = enabled_lapic();
  for (uint32_t off = reg::kLvtTimer; off <= reg::kLvtError; off += 0x10) l.write(off, 0x40, 0);
  EXPECT_EQ(l.read(reg::kLvtTimer, 0), 0x40u);
  l.write(reg::kSvr, 0xFF, 0);
  for (uint32_t off = reg::kLvtTimer; off <= reg::kLvtError; off += 0x10) {
    EXPECT_EQ(l.read(off, 0), 0x40u | reg::kLvtMasked) << std::hex << off;
    l.write(off, 0x41, 0);
    EXPECT_EQ(l.read(off, 0), 0x41u | reg::kLvtMasked) << std::hex << off;
  }
  l.write(reg::kSvr, 0x1FF, 0);  // enabling again does not unmask
  EXPECT_EQ(l.read(reg::kLvtTimer, 0), 0x41u | reg::kLvtMasked);
  l.write(reg::kLvtTimer, 0x41, 0);
  EXPECT_EQ(l.read(reg::kLvtTimer, 0), 0x41u);
}

TEST(LapicRegisters, SoftwareDisabledApicHoldsIrrButDeliversNothing) {
  Lapic l = enabled_lapic();
  l.deliver(fixed(0x50));
  l.write(reg::kSvr, 0xFF, 0);
  EXPECT_FALSE(l.pending_vector());
  l.deliver(fixed(0x60));  // dropped while disabled
  l.write(reg::kSvr, 0x1FF, 0);
  EXPECT_EQ(take(l), 0x50);
  EXPECT_FALSE(l.pending_vector());
}

TEST(LapicApicBase, RejectsX2apicAndReservedBits) {
  Lapic l = make_lapic(0, true);
  uint64_t base = l.apic_base_msr();
  EXPECT_FALSE(l.set_apic_base_msr(base | reg::kApicBaseX2apic));
  EXPECT_FALSE(l.set_apic_base_msr(base | 1));
  EXPECT_FALSE(l.set_apic_base_msr(base | (1ull << 52)));
  EXPECT_EQ(l.apic_base_msr(), base);
  EXPECT_TRUE(l.set_apic_base_msr(base & ~reg::kApicBaseBsp));  // BSP is read-only
  EXPECT_EQ(l.apic_base_msr(), base);
  EXPECT_TRUE(l.set_apic_base_msr(0xFED0'0000 | reg::kApicBaseEnable));
  EXPECT_EQ(l.apic_base_msr(), 0xFED0'0000 | reg::kApicBaseEnable | reg::kApicBaseBsp);
}

TEST(LapicApicBase, GlobalDisableTurnsTheApicOffAndResetsIt) {
  Lapic l = enabled_lapic(2);
  l.write(reg::kTpr, 0x20, 0);
  l.deliver(fixed(0x80));
  ASSERT_TRUE(l.set_apic_base_msr(0xFEE0'0000));
  EXPECT_FALSE(l.hardware_enabled());
  EXPECT_EQ(l.read(reg::kId, 0), 0u);
  EXPECT_FALSE(l.write(reg::kIcrLow, 0x4030, 0));
  l.deliver(InterruptMessage{.mode = DeliveryMode::Nmi});
  EXPECT_FALSE(l.has_wake_event());
  ASSERT_TRUE(l.set_apic_base_msr(0xFEE0'0000 | reg::kApicBaseEnable));
  EXPECT_EQ(l.read(reg::kId, 0), 2u << 24);
  EXPECT_EQ(l.read(reg::kTpr, 0), 0u);
  EXPECT_EQ(l.read(reg::kSvr, 0), 0xFFu);
  EXPECT_EQ(l.read(reg::kIrr + 0x40, 0), 0u);
}
