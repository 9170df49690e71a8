// DSDT (5.2.11.1): the \_S5 sleep package that lets an OS power off, and the
// COM1 UART so that it is enumerated without legacy probing.
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
  w.bytes(aml::scope("\\_SB", {com1}));
  return finish_sdt(std::move(w));
}

}  // namespace amalgam::boot::acpi
