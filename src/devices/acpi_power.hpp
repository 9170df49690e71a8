// The hardware-reduced ACPI power interface (ACPI 6.x 4.8.3.7/4.8.3.6): the
// FADT's SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG are three 8-bit
// I/O ports here. Writing SLP_EN with SLP_TYP = S5 powers off; writing the
// reset value resets (which amalgam turns into an exit with its own status).
#pragma once

#include <functional>

#include "devices/device.hpp"

namespace amalgam::devices {

class AcpiPower : public Device {
 public:
  // Offsets from the base port: control, status, reset.
  static constexpr uint64_t kControl = 0, kStatus = 1, kReset = 2, kSize = 3;
  AcpiPower(uint8_t s5_sleep_type, uint8_t reset_value, std::function<void()> power_off,
            std::function<void()> reset)
      : s5_(s5_sleep_type), reset_value_(reset_value), power_off_(std::move(power_off)),
        reset_(std::move(reset)) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  uint8_t s5_;
  uint8_t reset_value_;
  std::function<void()> power_off_;
  std::function<void()> reset_;
};

}  // namespace amalgam::devices
