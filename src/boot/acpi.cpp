#include "boot/acpi.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "boot/acpi_tables.hpp"
#include "common/error.hpp"

namespace amalgam::boot {
namespace {

constexpr uint64_t kTableAlignment = 16;  // the RSDP must be; the rest for tidiness

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

void check_config(const AcpiConfig& config) {
  const size_t vcpus = config.apic_ids.size();
  if (vcpus == 0 || vcpus > kMaxAcpiVcpus)
    throw UsageError(fmt::format("--vcpus {}: between 1 and {} vCPUs are supported (xAPIC IDs are 8-bit)",
                                 vcpus, kMaxAcpiVcpus));
  std::set<uint32_t> seen;
  for (uint32_t id : config.apic_ids)
    if (id >= 0xFF || !seen.insert(id).second)
      throw std::invalid_argument(fmt::format("ACPI: APIC ID {} is invalid or repeated", id));
  if (config.lapic_base > 0xFFFF'FFFF || config.ioapic_base > 0xFFFF'FFFF)
    throw std::invalid_argument("ACPI: APIC bases must be below 4 GiB");

  const auto& numa = config.numa;
  if (numa.nodes.empty()) return;
  if (numa.distances.size() != numa.nodes.size())
    throw std::invalid_argument("ACPI: NUMA distance matrix does not match the node count");
  for (const auto& row : numa.distances)
    if (row.size() != numa.nodes.size())
      throw std::invalid_argument("ACPI: NUMA distance matrix is not square");
  // Every vCPU in exactly one node.
  std::vector<int> nodes_of(vcpus, 0);
  for (const auto& node : numa.nodes)
    for (uint32_t v : node.vcpus) {
      if (v >= vcpus) throw std::invalid_argument(fmt::format("ACPI: NUMA node names vCPU {} of {}", v, vcpus));
      ++nodes_of[v];
    }
  for (size_t v = 0; v < vcpus; ++v)
    if (nodes_of[v] != 1)
      throw std::invalid_argument(fmt::format("ACPI: vCPU {} is in {} NUMA nodes", v, nodes_of[v]));
}

}  // namespace

std::vector<AcpiTable> build_acpi_tables(const AcpiConfig& config, uint64_t base) {
  check_config(config);
  const bool numa = !config.numa.nodes.empty();

  // The RSDP, XSDT and FADT point at other tables: they are built first with
  // zero pointers (same size) to lay everything out, then again for real.
  std::vector<AcpiTable> tables;
  tables.push_back({"RSDP", acpi::build_rsdp(0), 0});
  tables.push_back({"XSDT", {}, 0});
  tables.push_back({"FACP", acpi::build_fadt(0), 0});
  tables.push_back({"DSDT", acpi::build_dsdt(), 0});
  tables.push_back({"APIC", acpi::build_madt(config), 0});
  if (numa) {
    tables.push_back({"SRAT", acpi::build_srat(config.numa, config.apic_ids), 0});
    tables.push_back({"SLIT", acpi::build_slit(config.numa), 0});
  }
  // The XSDT lists every table but itself, the RSDP and the DSDT (which the
  // FADT points at).
  auto in_xsdt = [](const AcpiTable& t) {
    return t.signature != "RSDP" && t.signature != "XSDT" && t.signature != "DSDT";
  };
  tables[1].bytes = acpi::build_xsdt(std::vector<uint64_t>(std::ranges::count_if(tables, in_xsdt), 0));

  uint64_t next = align_up(base, kTableAlignment);
  for (auto& t : tables) {
    t.gpa = next;
    next = align_up(next + t.bytes.size(), kTableAlignment);
  }
  if (next > memory::kResetVector)
    throw UsageError(fmt::format(
        "--vcpus {}: the ACPI tables ({} bytes) do not fit between {:#x} and the reset vector at {:#x}",
        config.apic_ids.size(), next - base, base, memory::kResetVector));

  std::vector<uint64_t> xsdt_entries;
  for (const auto& t : tables)
    if (in_xsdt(t)) xsdt_entries.push_back(t.gpa);
  tables[0].bytes = acpi::build_rsdp(tables[1].gpa);
  tables[1].bytes = acpi::build_xsdt(xsdt_entries);
  tables[2].bytes = acpi::build_fadt(tables[3].gpa);
  return tables;
}

uint64_t write_acpi_tables(const memory::GuestMemory& mem, const AcpiConfig& config) {
  auto tables = build_acpi_tables(config, memory::kAcpiTablesStart);
  for (const auto& t : tables) mem.write(t.gpa, t.bytes);
  return tables.front().gpa;
}

}  // namespace amalgam::boot
