#include "devices/acpi_power.hpp"

namespace amalgam::devices {

void AcpiPower::read(uint64_t, std::span<uint8_t> data) { store_le(data, 0); }

void AcpiPower::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  uint8_t v = data[0];
  if (offset == kControl) {
    // Sleep control register: SLP_TYP in bits 4:2, SLP_EN bit 5 (ACPI 4.8.3.7).
    bool enable = v & (1u << 5);
    uint8_t type = (v >> 2) & 7;
    if (enable && type == s5_) power_off_();
  } else if (offset == kReset && v == reset_value_) {
    reset_();
  }
}

}  // namespace amalgam::devices
