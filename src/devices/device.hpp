// A device on a bus: accesses arrive as (offset inside the device's range,
// bytes). Devices do not know which node or vCPU they run on; each device
// serialises its own state (vCPU threads call in concurrently).
#pragma once

#include <cstdint>
#include <span>

namespace amalgam::devices {

class Device {
 public:
  virtual ~Device() = default;
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

// Little-endian value of an access of 1, 2, 4 or 8 bytes, and back.
uint64_t load_le(std::span<const uint8_t> data);
void store_le(std::span<uint8_t> data, uint64_t value);

}  // namespace amalgam::devices
