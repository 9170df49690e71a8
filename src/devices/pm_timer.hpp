// The ACPI power-management timer (ACPI 6.5 4.8.3.3): a free-running 24-bit
// counter at 3.579545 MHz, read as 32 bits at the FADT's PM_TMR_BLK /
// X_PM_TMR_BLK port (the machine places it where the FADT says,
// boot::kAcpiPmTimerPort). Linux calibrates the TSC and the LAPIC timer against it
// when there is no PIT or HPET. Writes are ignored.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/device.hpp"

namespace amalgam::devices {

class PmTimer : public Device {
 public:
  static constexpr uint64_t kSize = 4;
  static constexpr uint64_t kFrequencyHz = 3'579'545;
  static constexpr uint32_t kMask = 0xFF'FFFF;  // 24 bits (FADT TMR_VAL_EXT clear)

  // `now_ns` gives a monotonic time in nanoseconds (injected for tests).
  explicit PmTimer(std::function<uint64_t()> now_ns);

  // The counter at `ns` after the timer started.
  static uint32_t ticks_at(uint64_t ns);

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t, std::span<const uint8_t>) override {}

 private:
  std::function<uint64_t()> now_ns_;
  uint64_t start_ns_;
};

}  // namespace amalgam::devices
