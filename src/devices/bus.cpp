#include "devices/bus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace amalgam::devices {

uint64_t load_le(std::span<const uint8_t> data) {
  uint64_t v = 0;
  for (size_t i = 0; i < data.size() && i < 8; ++i) v |= uint64_t{data[i]} << (8 * i);
  return v;
}

void store_le(std::span<uint8_t> data, uint64_t value) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = i < 8 ? static_cast<uint8_t>(value >> (8 * i)) : 0;
}

void Bus::add(uint64_t base, uint64_t size, std::shared_ptr<Device> device, std::string device_name) {
  for (const auto& r : ranges_)
    if (base < r.base + r.size && r.base < base + size)
      throw std::invalid_argument(fmt::format("{} bus: {} at {:#x}+{:#x} overlaps {}", name_, device_name,
                                              base, size, r.name));
  ranges_.push_back({base, size, std::move(device), std::move(device_name)});
  std::sort(ranges_.begin(), ranges_.end(), [](auto& a, auto& b) { return a.base < b.base; });
}

const Bus::Range* Bus::find(uint64_t address, uint64_t len) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                             [](uint64_t a, const Range& r) { return a < r.base; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  if (address - it->base >= it->size || len > it->size - (address - it->base)) return nullptr;
  return &*it;
}

bool Bus::read(uint64_t address, std::span<uint8_t> data) const {
  if (const Range* r = find(address, data.size())) {
    r->device->read(address - r->base, data);
    return true;
  }
  std::fill(data.begin(), data.end(), 0xFF);
  return false;
}

bool Bus::write(uint64_t address, std::span<const uint8_t> data) const {
  if (const Range* r = find(address, data.size())) {
    r->device->write(address - r->base, data);
    return true;
  }
  return false;
}

}  // namespace amalgam::devices
