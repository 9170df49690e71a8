// Little-endian byte buffer for building firmware tables and boot structures
// field by field, with back-patching of fields whose value is known last
// (lengths, checksums).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace amalgam::boot {

using Bytes = std::vector<uint8_t>;

class ByteWriter {
 public:
  template <typename T>
    requires std::is_unsigned_v<T>
  ByteWriter& le(T value) {
    for (size_t i = 0; i < sizeof(T); ++i) bytes_.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return *this;
  }
  ByteWriter& u8(uint8_t v) { return le(v); }
  ByteWriter& u16(uint16_t v) { return le(v); }
  ByteWriter& u32(uint32_t v) { return le(v); }
  ByteWriter& u64(uint64_t v) { return le(v); }
  ByteWriter& bytes(std::span<const uint8_t> b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  ByteWriter& zeros(size_t n) {
    bytes_.resize(bytes_.size() + n, 0);
    return *this;
  }
  // Exactly `width` characters: text truncated or padded with `pad`.
  ByteWriter& chars(std::string_view text, size_t width, char pad = ' ') {
    for (size_t i = 0; i < width; ++i)
      bytes_.push_back(static_cast<uint8_t>(i < text.size() ? text[i] : pad));
    return *this;
  }

  template <typename T>
    requires std::is_unsigned_v<T>
  void patch(size_t offset, T value) {
    for (size_t i = 0; i < sizeof(T); ++i) bytes_.at(offset + i) = static_cast<uint8_t>(value >> (8 * i));
  }

  size_t size() const { return bytes_.size(); }
  const Bytes& view() const { return bytes_; }
  Bytes take() { return std::move(bytes_); }

 private:
  Bytes bytes_;
};

// The byte that makes the 8-bit sum of `bytes` zero when stored in a field
// that currently holds 0 (ACPI 5.2.5.3, 5.2.6).
inline uint8_t checksum_byte(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return static_cast<uint8_t>(-sum);
}

}  // namespace amalgam::boot
