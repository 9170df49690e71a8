// FADT (5.2.9), revision 6, for a hardware-reduced ACPI platform (4.1): no
// fixed PM event/control blocks, no FACS, no SCI; sleep and reset go through
// the GAS registers at the fixed ports of acpi.hpp. The one fixed block is
// the 24-bit PM timer (4.8.3.3), which Linux calibrates its clocks against.
#include "boot/acpi_tables.hpp"

namespace amalgam::boot::acpi {
namespace {
constexpr uint32_t kResetRegSup = 1u << 10;     // Table 5.10
constexpr uint32_t kHwReducedAcpi = 1u << 20;
constexpr uint16_t kIapcVgaNotPresent = 1u << 2;  // IA-PC boot architecture flags, Table 5.11
constexpr uint8_t kFadtMinorVersion = 5;        // ACPI 6.5
constexpr size_t kGasSize = 12;
}  // namespace

Bytes build_fadt(uint64_t dsdt_gpa) {
  ByteWriter w = begin_sdt("FACP", 6);
  w.u32(0).u32(0);  // FIRMWARE_CTRL, DSDT: 0, the 64-bit X_ fields are used
  w.u8(0).u8(0);    // reserved, Preferred_PM_Profile (unspecified)
  w.u16(0);         // SCI_INT: none on hardware-reduced ACPI
  w.u32(0).u8(0).u8(0).u8(0).u8(0);  // SMI_CMD, ACPI_ENABLE/DISABLE, S4BIOS_REQ, PSTATE_CNT
  w.zeros(5 * 4);                    // PM1a/b event+control, PM2 control blocks
  w.u32(kAcpiPmTimerPort);           // PM_TMR_BLK
  w.zeros(2 * 4);                    // GPE0/1 blocks
  w.zeros(3).u8(kAcpiPmTimerLength); // PM1_EVT/PM1_CNT/PM2_CNT_LEN, PM_TMR_LEN
  w.zeros(3);                        // GPE0/1_BLK_LEN, GPE1_BASE
  w.u8(0);                           // CST_CNT
  w.u16(0).u16(0).u16(0).u16(0);     // P_LVL2/3_LAT, FLUSH_SIZE/STRIDE
  w.u8(0).u8(0).u8(0).u8(0);         // DUTY_OFFSET/WIDTH, DAY/MON_ALRM
  w.u8(kCmosCenturyIndex);           // CENTURY: the RTC's century byte
  w.u16(kIapcVgaNotPresent).u8(0);   // IAPC_BOOT_ARCH, reserved
  w.u32(kHwReducedAcpi | kResetRegSup);
  io_port_gas(w, kAcpiResetPort);    // RESET_REG
  w.u8(kAcpiResetValue);
  w.u16(0).u8(kFadtMinorVersion);    // ARM_BOOT_ARCH, FADT minor version
  w.u64(0).u64(dsdt_gpa);            // X_FIRMWARE_CTRL, X_DSDT
  w.zeros(5 * kGasSize);             // X_PM1a_EVT_BLK .. X_PM2_CNT_BLK
  io_port_gas(w, kAcpiPmTimerPort, kAcpiPmTimerLength);  // X_PM_TMR_BLK
  w.zeros(2 * kGasSize);             // X_GPE0_BLK, X_GPE1_BLK
  io_port_gas(w, kAcpiSleepControlPort);
  io_port_gas(w, kAcpiSleepStatusPort);
  w.chars("AMALGAM", 8, '\0');  // Hypervisor Vendor Identity
  return finish_sdt(std::move(w));
}

}  // namespace amalgam::boot::acpi
