// MADT (5.2.12): one Processor Local APIC per vCPU, one I/O APIC, the ISA
// interrupt source overrides and the LINT1 NMI.
#include "boot/acpi_tables.hpp"

namespace amalgam::boot::acpi {
namespace {
enum : uint8_t { kLocalApic = 0, kIoApic = 1, kSourceOverride = 2, kLocalApicNmi = 4 };
constexpr uint32_t kEnabled = 1;
// MPS INTI flags (Table 5.26): polarity bits 1:0, trigger mode bits 3:2.
constexpr uint16_t kActiveHigh = 0b01, kEdge = 0b01 << 2, kLevel = 0b11 << 2;
constexpr uint8_t kAllProcessors = 0xFF;

void source_override(ByteWriter& w, uint8_t isa_irq, uint32_t gsi, uint16_t flags) {
  w.u8(kSourceOverride).u8(10).u8(0 /* ISA bus */).u8(isa_irq).u32(gsi).u16(flags);
}

}  // namespace

Bytes build_madt(const AcpiConfig& config) {
  ByteWriter w = begin_sdt("APIC", 5);
  // PCAT_COMPAT off: there are no 8259 PICs to mask.
  w.u32(static_cast<uint32_t>(config.lapic_base)).u32(0);
  for (size_t uid = 0; uid < config.apic_ids.size(); ++uid)
    w.u8(kLocalApic).u8(8).u8(static_cast<uint8_t>(uid)).u8(static_cast<uint8_t>(config.apic_ids[uid]))
        .u32(kEnabled);
  w.u8(kIoApic).u8(12).u8(config.ioapic_id).u8(0).u32(static_cast<uint32_t>(config.ioapic_base)).u32(0);
  // The PIT's IRQ 0 arrives on IOAPIC pin 2, as on PC chipsets; IRQ 9 is the
  // level-triggered one OSes expect for ACPI-era devices.
  source_override(w, 0, 2, kActiveHigh | kEdge);
  source_override(w, 9, 9, kActiveHigh | kLevel);
  w.u8(kLocalApicNmi).u8(6).u8(kAllProcessors).u16(0 /* bus default */).u8(1 /* LINT1 */);
  return finish_sdt(std::move(w));
}

}  // namespace amalgam::boot::acpi
