#include "boot/aml.hpp"

#include <stdexcept>
#include <string>

namespace amalgam::boot::aml {
namespace {

// AML opcodes (ACPI 6.x 20.3).
constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08, kBytePrefix = 0x0A,
                  kWordPrefix = 0x0B, kDWordPrefix = 0x0C, kQWordPrefix = 0x0E, kScopeOp = 0x10,
                  kBufferOp = 0x11, kPackageOp = 0x12, kExtOpPrefix = 0x5B, kDeviceOp = 0x82,
                  kRootChar = '\\';

Bytes concat(const std::vector<Bytes>& parts) {
  ByteWriter w;
  for (const auto& p : parts) w.bytes(p);
  return w.take();
}

// opcode bytes, PkgLength, body: the shape of every package-like term.
Bytes with_pkg_length(std::initializer_list<uint8_t> opcode, const Bytes& body) {
  ByteWriter w;
  for (uint8_t b : opcode) w.u8(b);
  w.bytes(pkg_length(body.size())).bytes(body);
  return w.take();
}

}  // namespace

Bytes pkg_length(size_t payload_size) {
  // One byte holds 6 bits of length; 2..4 bytes hold 4 bits in the lead byte
  // (whose bits 7:6 count the bytes that follow) plus 8 bits per extra byte.
  if (payload_size + 1 < (1u << 6)) return {static_cast<uint8_t>(payload_size + 1)};
  for (size_t extra = 1; extra <= 3; ++extra) {
    size_t total = payload_size + 1 + extra;
    if (total < (size_t{1} << (4 + 8 * extra))) {
      Bytes out{static_cast<uint8_t>((extra << 6) | (total & 0xF))};
      for (size_t i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
      return out;
    }
  }
  throw std::length_error("AML package longer than 2^28 bytes");
}

Bytes name_string(std::string_view path) {
  ByteWriter w;
  if (!path.empty() && path.front() == kRootChar) {
    w.u8(kRootChar);
    path.remove_prefix(1);
  }
  // NameSeg (20.2.2): a lead character A-Z or '_', then A-Z, 0-9 or '_'.
  auto lead_ok = [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; };
  auto rest_ok = [&](char c) { return lead_ok(c) || (c >= '0' && c <= '9'); };
  if (path.empty() || path.size() > 4 || !lead_ok(path.front()))
    throw std::invalid_argument("bad AML name segment: " + std::string(path));
  for (char c : path)
    if (!rest_ok(c)) throw std::invalid_argument("bad AML name segment: " + std::string(path));
  w.chars(path, 4, '_');
  return w.take();
}

Bytes integer(uint64_t value) {
  ByteWriter w;
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  if (value <= 0xFF) return w.u8(kBytePrefix).u8(static_cast<uint8_t>(value)).take();
  if (value <= 0xFFFF) return w.u8(kWordPrefix).u16(static_cast<uint16_t>(value)).take();
  if (value <= 0xFFFF'FFFF) return w.u8(kDWordPrefix).u32(static_cast<uint32_t>(value)).take();
  return w.u8(kQWordPrefix).u64(value).take();
}

Bytes eisa_id(std::string_view id) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  bool ok = id.size() == 7 && upper(id[0]) && upper(id[1]) && upper(id[2]);
  for (size_t i = 3; ok && i < 7; ++i) ok = hex(id[i]) >= 0;
  if (!ok) throw std::invalid_argument("bad EISA ID: " + std::string(id));
  // Three 5-bit letters ('A' = 1) and four hex digits, stored big-endian
  // (ACPI 6.x 19.6.35 EISAID).
  uint32_t v = 0;
  for (size_t i = 0; i < 3; ++i) v = (v << 5) | static_cast<uint32_t>(id[i] - '@');
  for (size_t i = 3; i < 7; ++i) v = (v << 4) | static_cast<uint32_t>(hex(id[i]));
  ByteWriter w;
  w.u8(kDWordPrefix);
  for (int shift = 24; shift >= 0; shift -= 8) w.u8(static_cast<uint8_t>(v >> shift));
  return w.take();
}

Bytes name(std::string_view path, const Bytes& value) {
  return ByteWriter().u8(kNameOp).bytes(name_string(path)).bytes(value).take();
}

Bytes package(const std::vector<Bytes>& elements) {
  if (elements.size() > 0xFF) throw std::length_error("AML package with more than 255 elements");
  Bytes body = ByteWriter().u8(static_cast<uint8_t>(elements.size())).bytes(concat(elements)).take();
  return with_pkg_length({kPackageOp}, body);
}

Bytes buffer(const Bytes& contents) {
  return with_pkg_length({kBufferOp}, ByteWriter().bytes(integer(contents.size())).bytes(contents).take());
}

Bytes scope(std::string_view path, const std::vector<Bytes>& terms) {
  return with_pkg_length({kScopeOp}, ByteWriter().bytes(name_string(path)).bytes(concat(terms)).take());
}

Bytes device(std::string_view path, const std::vector<Bytes>& terms) {
  return with_pkg_length({kExtOpPrefix, kDeviceOp},
                         ByteWriter().bytes(name_string(path)).bytes(concat(terms)).take());
}

Bytes io_port(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
  // Small descriptor, I/O Port (6.4.2.5): tag 0x47, bit 0 of info = 16-bit decode.
  return ByteWriter().u8(0x47).u8(0x01).u16(min).u16(max).u8(alignment).u8(length).take();
}

Bytes irq_no_flags(uint8_t irq) {
  if (irq > 15) throw std::invalid_argument("ISA IRQ above 15");
  // Small descriptor, IRQ (6.4.2.1), the 2-byte form: edge, active high.
  return ByteWriter().u8(0x22).u16(static_cast<uint16_t>(1u << irq)).take();
}

Bytes resource_template(const std::vector<Bytes>& descriptors) {
  // End Tag (6.4.2.9) with checksum 0, which means "treat as valid".
  return buffer(ByteWriter().bytes(concat(descriptors)).u8(0x79).u8(0x00).take());
}

}  // namespace amalgam::boot::aml
