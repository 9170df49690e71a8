// Test tool: writes the ACPI tables for a given configuration to
// DIR/<SIG>.dat, one file per table, for checking with `iasl -d`.
//   acpi_dump --vcpus 4 --numa 2 [--memory-mib 4096] DIR
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>

#include "boot/acpi.hpp"
#include "boot/numa.hpp"
#include "memory/layout.hpp"

int main(int argc, char** argv) {
  CLI::App app("Dump Amalgam's ACPI tables as binary files");
  uint32_t vcpus = 1, numa = 1;
  uint64_t memory_mib = 4096;
  std::string dir;
  app.add_option("--vcpus", vcpus, "vCPUs")->check(CLI::Range(1u, 1024u));
  app.add_option("--numa", numa, "NUMA nodes");
  app.add_option("--memory-mib", memory_mib, "guest RAM in MiB");
  app.add_option("dir", dir, "output folder (must exist)")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    amalgam::memory::Layout layout(memory_mib << 20);
    amalgam::boot::AcpiConfig config;
    for (uint32_t i = 0; i < vcpus; ++i) config.apic_ids.push_back(i);
    config.numa = amalgam::boot::make_numa_plan(layout, vcpus, numa);
    config.ioapic_id = static_cast<uint8_t>(vcpus);
    for (const auto& t : amalgam::boot::build_acpi_tables(config)) {
      std::string path = fmt::format("{}/{}.dat", dir, t.signature);
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
      if (!out) throw std::runtime_error("cannot write " + path);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acpi_dump: %s\n", e.what());
    return 1;
  }
  return 0;
}
