// The guest's ACPI tables: RSDP, XSDT, FADT (hardware-reduced), DSDT, MADT,
// SRAT and SLIT, laid out in the ACPI area below 1 MiB that build_e820()
// reports as ACPI-reclaimable. A PVH guest finds the RSDP through
// hvm_start_info.rsdp_paddr; others can find it by scanning 0xE0000-0xFFFFF
// (ACPI 5.2.5.1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "boot/numa.hpp"
#include "memory/e820.hpp"
#include "memory/guest_memory.hpp"
#include "memory/layout.hpp"

namespace amalgam::boot {

// Fixed I/O ports of our hardware-reduced ACPI power interface (FADT
// SLEEP_CONTROL_REG / SLEEP_STATUS_REG / RESET_REG, 8-bit system I/O).
// Poweroff: the guest writes (kAcpiS5SleepType << kAcpiSleepTypeShift) |
// kAcpiSleepEnable to the sleep control port (ACPI 4.8.3.7); reset: it writes
// kAcpiResetValue to the reset port.
inline constexpr uint16_t kAcpiSleepControlPort = 0x600, kAcpiSleepStatusPort = 0x601,
                          kAcpiResetPort = 0x602;
inline constexpr uint8_t kAcpiResetValue = 0x1, kAcpiS5SleepType = 5;
inline constexpr uint8_t kAcpiSleepTypeShift = 2, kAcpiSleepEnable = 1u << 5;

// The ACPI PM timer's 32-bit port (FADT PM_TMR_BLK; devices::PmTimer), as
// QEMU's PIIX4/ICH9 PM base 0x600 + 8.
inline constexpr uint16_t kAcpiPmTimerPort = 0x608;
inline constexpr uint8_t kAcpiPmTimerLength = 4;

// The CMOS RTC's century byte (FADT CENTURY; devices::CmosRtc keeps it here).
inline constexpr uint8_t kCmosCenturyIndex = 0x32;

// xAPIC IDs are 8 bits and 0xFF is the broadcast ID (and the "all
// processors" UID in the MADT NMI entry), so the tables describe at most 255.
inline constexpr uint32_t kMaxAcpiVcpus = 255;

struct AcpiConfig {
  std::vector<uint32_t> apic_ids;  // one per vCPU, index = ACPI processor UID
  NumaPlan numa;                   // SRAT/SLIT emitted when it has at least one node
  uint8_t ioapic_id = 0;
  uint64_t ioapic_base = memory::kIoapicBase;
  uint64_t lapic_base = memory::kLapicBase;
};

struct AcpiTable {
  std::string signature;  // "RSDP" for the RSDP (whose bytes start "RSD PTR ")
  std::vector<uint8_t> bytes;
  uint64_t gpa;
};

// Lays out RSDP, XSDT, FADT, DSDT, MADT, SRAT, SLIT from `base` upwards
// (16-byte aligned, checksums filled, pointers resolved) and returns them,
// RSDP first. Pure: needs no guest memory. Throws UsageError naming --vcpus
// for 0 or more than kMaxAcpiVcpus vCPUs, or when the tables would not fit
// below 1 MiB; std::invalid_argument when the config is inconsistent (APIC ID
// 0xFF or repeated, a NUMA node naming a vCPU that does not exist, a vCPU in
// no node, a distance matrix of the wrong shape).
std::vector<AcpiTable> build_acpi_tables(const AcpiConfig& config,
                                         uint64_t base = memory::kAcpiTablesStart);

// Builds the tables at kAcpiTablesStart and writes them to guest memory;
// returns the RSDP's gpa.
uint64_t write_acpi_tables(const memory::GuestMemory& mem, const AcpiConfig& config);

}  // namespace amalgam::boot
