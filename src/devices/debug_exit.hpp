// Debug-exit port: a write ends the machine with the written value as its
// exit status (values above 255 become 255, since a process status is 8 bits).
// Port 0xF4 is where QEMU's isa-debug-exit sits, so a test guest runs on both.
#pragma once

#include <functional>

#include "devices/device.hpp"

namespace amalgam::devices {

class DebugExit : public Device {
 public:
  static constexpr uint16_t kPort = 0xF4;
  using ExitFn = std::function<void(int status)>;
  explicit DebugExit(ExitFn on_exit) : on_exit_(std::move(on_exit)) {}

  void read(uint64_t, std::span<uint8_t> data) override { store_le(data, 0); }
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  ExitFn on_exit_;
};

}  // namespace amalgam::devices
