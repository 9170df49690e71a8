// Pieces shared by every table: the SDT header, the RSDP and the XSDT.
#include "boot/acpi_tables.hpp"

namespace amalgam::boot::acpi {
namespace {
constexpr size_t kLengthOffset = 4, kChecksumOffset = 9;
}  // namespace

ByteWriter begin_sdt(std::string_view signature, uint8_t revision) {
  ByteWriter w;
  w.chars(signature, 4).u32(0).u8(revision).u8(0);
  w.chars(kOemId, 6).chars(kOemTableId, 8).u32(1);  // OEM ID, table ID, revision
  w.chars(kCreatorId, 4).u32(1);                    // creator ID and revision
  return w;
}

Bytes finish_sdt(ByteWriter table) {
  table.patch(kLengthOffset, static_cast<uint32_t>(table.size()));
  table.patch(kChecksumOffset, checksum_byte(table.view()));
  return table.take();
}

void io_port_gas(ByteWriter& w, uint16_t port, uint8_t bytes) {
  constexpr uint8_t kSystemIo = 1;
  // space, bit width, bit offset, access size (1 byte, 2 word, 3 dword, 4 qword)
  uint8_t access = bytes == 8 ? 4 : bytes == 4 ? 3 : bytes == 2 ? 2 : 1;
  w.u8(kSystemIo).u8(static_cast<uint8_t>(8 * bytes)).u8(0).u8(access).u64(port);
}

Bytes build_rsdp(uint64_t xsdt_gpa) {
  // 5.2.5.3: revision 2; the first checksum covers the ACPI 1.0 part (20
  // bytes), the extended one all 36. No RSDT: its address stays 0.
  ByteWriter w;
  w.chars("RSD PTR ", 8).u8(0).chars(kOemId, 6).u8(2).u32(0);
  w.u32(static_cast<uint32_t>(kRsdpSize)).u64(xsdt_gpa).u8(0).zeros(3);
  w.patch(8, checksum_byte(std::span(w.view()).first(20)));
  w.patch(32, checksum_byte(w.view()));
  return w.take();
}

Bytes build_xsdt(const std::vector<uint64_t>& table_gpas) {
  ByteWriter w = begin_sdt("XSDT", 1);
  for (uint64_t gpa : table_gpas) w.u64(gpa);
  return finish_sdt(std::move(w));
}

}  // namespace amalgam::boot::acpi
