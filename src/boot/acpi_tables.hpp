// Builders of the individual ACPI tables; build_acpi_tables() (acpi.hpp)
// decides where they go and links them together.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "boot/acpi.hpp"
#include "boot/byte_writer.hpp"

namespace amalgam::boot::acpi {

inline constexpr std::string_view kOemId = "AMALGM";
inline constexpr std::string_view kOemTableId = "AMALGAM";
inline constexpr std::string_view kCreatorId = "AMLG";
inline constexpr size_t kSdtHeaderSize = 36;
inline constexpr size_t kRsdpSize = 36;

// The System Description Table Header (5.2.6) with zero length and checksum;
// finish_sdt() fills both once the body is written.
ByteWriter begin_sdt(std::string_view signature, uint8_t revision);
Bytes finish_sdt(ByteWriter table);

// Generic Address Structure (5.2.3.2) for an 8-bit register in system I/O
// space.
void io_port_gas(ByteWriter& w, uint16_t port, uint8_t bytes = 1);

Bytes build_rsdp(uint64_t xsdt_gpa);
Bytes build_xsdt(const std::vector<uint64_t>& table_gpas);
Bytes build_fadt(uint64_t dsdt_gpa);
Bytes build_dsdt();
Bytes build_madt(const AcpiConfig& config);
Bytes build_srat(const NumaPlan& numa, const std::vector<uint32_t>& apic_ids);
Bytes build_slit(const NumaPlan& numa);

}  // namespace amalgam::boot::acpi
