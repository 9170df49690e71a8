// DSDT (5.2.11.1): the \_S5 sleep package that lets an OS power off, and the
// COM1 UART and the CMOS RTC so that they are enumerated without legacy
// probing: with its IRQ described here Linux maps the RTC's IRQ 8 through
// the IOAPIC; its legacy platform device names an IRQ that a hardware-reduced
// platform (no 8259) never maps, and its probe fails.
#include "boot/acpi_tables.hpp"
#include "boot/aml.hpp"

namespace amalgam::boot::acpi {

Bytes build_dsdt() {
  // Revision 2: AML integers are 64 bits wide.
  ByteWriter w = begin_sdt("DSDT", 2);
  // Package {SLP_TYPa, SLP_TYPb} (7.4.2); on hardware-reduced ACPI the OS
  // writes SLP_TYPa into the sleep control register.
  w.bytes(aml::name("\\_S5", aml::package({aml::integer(kAcpiS5SleepType),
                                           aml::integer(kAcpiS5SleepType)})));
  auto com1 = aml::device(
      "COM1", {aml::name("_HID", aml::eisa_id("PNP0501")),  // 16550A-compatible UART
               aml::name("_UID", aml::integer(0)),
               aml::name("_CRS", aml::resource_template({aml::io_port(0x3F8, 0x3F8, 1, 8),
                                                         aml::irq_no_flags(4)}))});
  auto rtc = aml::device(
      "RTC0", {aml::name("_HID", aml::eisa_id("PNP0B00")),  // AT real-time clock (MC146818)
              aml::name("_CRS", aml::resource_template({aml::io_port(0x70, 0x70, 1, 2), aml::irq_no_flags(8)}))});
  w.bytes(aml::scope("\\_SB", {com1, rtc}));
  return finish_sdt(std::move(w));
}

}  // namespace amalgam::boot::acpi
