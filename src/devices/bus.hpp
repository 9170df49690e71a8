// Address decoding for one address space (I/O ports or MMIO): a sorted set of
// non-overlapping ranges, each served by one device. Filled before the vCPUs
// start, read-only afterwards, so lookups need no lock.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "devices/device.hpp"

namespace amalgam::devices {

class Bus {
 public:
  explicit Bus(std::string name) : name_(std::move(name)) {}

  // Throws std::invalid_argument when the range overlaps one already added.
  void add(uint64_t base, uint64_t size, std::shared_ptr<Device> device, std::string device_name);

  // An access nothing decodes reads as all ones and drops writes, as on a PC;
  // these return false so that the caller can count such accesses.
  bool read(uint64_t address, std::span<uint8_t> data) const;
  bool write(uint64_t address, std::span<const uint8_t> data) const;

 private:
  struct Range {
    uint64_t base;
    uint64_t size;
    std::shared_ptr<Device> device;
    std::string name;
  };
  const Range* find(uint64_t address, uint64_t len) const;

  std::string name_;
  std::vector<Range> ranges_;
};

}  // namespace amalgam::devices
