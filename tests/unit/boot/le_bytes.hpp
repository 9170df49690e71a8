// Test helper: little-endian fields read back from table bytes.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace amalgam::boot::test {

inline uint64_t le(std::span<const uint8_t> bytes, size_t offset, size_t size) {
  if (offset + size > bytes.size()) throw std::out_of_range("field past the end of the table");
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) v |= uint64_t{bytes[offset + i]} << (8 * i);
  return v;
}

inline std::string text(std::span<const uint8_t> bytes, size_t offset, size_t size) {
  return std::string(bytes.begin() + offset, bytes.begin() + offset + size);
}

inline uint8_t byte_sum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return sum;
}

}  // namespace amalgam::boot::test
