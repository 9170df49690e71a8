// The PC CMOS real-time clock, an MC146818A (MC146818A data sheet) behind
// the index port 0x70 and the data port 0x71: 128 bytes of CMOS, of which
// Seconds/Minutes/Hours/Day of week/Date of month/Month/Year (0x00-0x09, with
// the alarm bytes 0x01/0x03/0x05 as plain storage) and the century byte 0x32
// (the byte the FADT's CENTURY field names) show the time source plus an
// offset the guest sets, in BCD or binary (register B DM) and in 24- or
// 12-hour form (register B 24/12, PM in bit 7 of the hour).
//
// Register A: UIP (bit 7) is set during the last 244 us before each second
// boundary of the emulated clock and clear while SET is set; the divider and
// rate bits are stored only. Register B: SET freezes the time bytes; what the
// guest writes to them while SET is set becomes the clock when SET is cleared,
// read in the data mode register B had while they were written. A time byte
// written while SET is clear adjusts the clock at once. Register C reads 0 and
// register D reads VRT (0x80); both are read-only. This RTC raises no
// interrupts: the interrupt enable bits of register B are stored only, and
// kIrq is the line the RTC has on a PC, for the machine's tables. Bit 7 of an
// index write (NMI disable) is kept but has no effect; the index port reads
// 0xFF. Dates run from 1970 to 2099; a guest-set time outside that is ignored.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include "devices/device.hpp"

namespace amalgam::devices {

class CmosRtc : public Device {
 public:
  static constexpr uint16_t kPort = 0x70;  // index; kPort + 1 is data
  static constexpr uint64_t kSize = 2;
  static constexpr uint32_t kIrq = 8;
  static constexpr uint8_t kCenturyRegister = 0x32;

  // `now_ns` gives the wall-clock time in nanoseconds since the Unix epoch,
  // UTC (CLOCK_REALTIME; injected for tests).
  explicit CmosRtc(std::function<int64_t()> now_ns);

  // Accesses wider than a byte act as the byte-wise sequence from `offset`.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  uint8_t read_byte(uint64_t offset);
  void write_byte(uint64_t offset, uint8_t value);
  void store_time();  // the clock into the time bytes of cmos_
  void load_time();   // the time bytes of cmos_ into the clock, if valid

  std::mutex mu_;
  std::function<int64_t()> now_ns_;
  std::array<uint8_t, 128> cmos_{};
  uint8_t index_ = 0;
  bool nmi_disabled_ = false;
  int64_t offset_s_ = 0;  // emulated time minus the time source, whole seconds
};

}  // namespace amalgam::devices
