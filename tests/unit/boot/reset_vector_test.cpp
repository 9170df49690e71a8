#include <gtest/gtest.h>

#include "boot/acpi.hpp"
#include "boot/reset_vector.hpp"
#include "memory/e820.hpp"

using namespace amalgam;

// 16-bit real mode: mov dx, 0x602; mov al, 1; out dx, al; hlt; jmp to the hlt.
TEST(ResetVector, StubWritesTheFadtResetValueToItsPortThenHalts) {
  auto code = boot::reset_vector_stub();
  EXPECT_EQ(code[0], 0xBA);
  EXPECT_EQ(code[1] | (code[2] << 8), boot::kAcpiResetPort);
  EXPECT_EQ(code[3], 0xB0);
  EXPECT_EQ(code[4], boot::kAcpiResetValue);
  EXPECT_EQ(code[5], 0xEE);
  EXPECT_EQ(code[6], 0xF4);
  EXPECT_EQ(code[7], 0xEB);
  EXPECT_EQ(static_cast<int8_t>(code[8]), -3);  // from the end of the jmp (9) back to the hlt (6)
  EXPECT_EQ(memory::kResetVector + code.size(), memory::kOneMiB);
}

TEST(ResetVector, AcpiTablesEndBelowIt) {
  boot::AcpiConfig config;
  for (uint32_t i = 0; i < 8; ++i) config.apic_ids.push_back(i);
  auto tables = boot::build_acpi_tables(config);
  EXPECT_LE(tables.back().gpa + tables.back().bytes.size(), memory::kResetVector);
}
