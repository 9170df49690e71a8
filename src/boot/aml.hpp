// A tiny encoder for the few AML constructs our DSDT needs (ACPI 6.x ch. 20,
// "ACPI Machine Language Specification"; resource descriptors ch. 6.4).
// Each function returns the encoded bytes of one term, so terms nest like the
// ASL they stand for:
//   scope("\\_SB_", {device("COM1", {name("_HID", eisa_id("PNP0501")), ...})})
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "boot/byte_writer.hpp"

namespace amalgam::boot::aml {

// PkgLength (20.2.4): the length of the package including the PkgLength
// bytes themselves.
Bytes pkg_length(size_t payload_size);

// NameString: an optional root prefix '\' followed by one NameSeg; segments
// shorter than 4 characters are padded with '_'.
Bytes name_string(std::string_view path);

// The smallest integer encoding: ZeroOp, OneOp, or Byte/Word/DWord/QWord
// prefix.
Bytes integer(uint64_t value);

// A 32-bit compressed EISA ID such as "PNP0501" (ASL EISAID()), always
// DWord-encoded as iasl does.
Bytes eisa_id(std::string_view id);

Bytes name(std::string_view path, const Bytes& value);                  // Name(path, value)
Bytes package(const std::vector<Bytes>& elements);                      // Package(){...}
Bytes buffer(const Bytes& contents);                                    // Buffer(){...}
Bytes scope(std::string_view path, const std::vector<Bytes>& terms);    // Scope(path){...}
Bytes device(std::string_view path, const std::vector<Bytes>& terms);   // Device(path){...}

// Resource descriptors for a ResourceTemplate.
Bytes io_port(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);  // IO(Decode16, ...)
Bytes irq_no_flags(uint8_t irq);                                              // IRQNoFlags(){irq}
// Buffer of the descriptors followed by the End Tag (6.4.2.9).
Bytes resource_template(const std::vector<Bytes>& descriptors);

}  // namespace amalgam::boot::aml
