// Every ACPI table parsed back from its bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "boot/acpi.hpp"
#include "boot/numa.hpp"
#include "common/error.hpp"
#include "le_bytes.hpp"
#include "memory/guest_memory.hpp"

using namespace amalgam;
using namespace amalgam::boot;
using test::byte_sum;
using test::le;
using test::text;

namespace {

AcpiConfig four_vcpus_two_nodes() {
  AcpiConfig c;
  c.apic_ids = {0, 2, 4, 6};  // not the identity, to catch UID/ID mix-ups
  c.numa = make_numa_plan(memory::Layout(4ull << 30), 4, 2);
  c.ioapic_id = 8;
  return c;
}

const AcpiTable& find(const std::vector<AcpiTable>& tables, const std::string& sig) {
  auto it = std::ranges::find(tables, sig, &AcpiTable::signature);
  if (it == tables.end()) throw std::runtime_error("no table " + sig);
  return *it;
}

// Subtables of MADT/SRAT: (type, offset) from `start` to the end.
std::vector<std::pair<uint8_t, size_t>> subtables(const std::vector<uint8_t>& t, size_t start) {
  std::vector<std::pair<uint8_t, size_t>> out;
  for (size_t off = start; off < t.size();) {
    uint8_t len = t.at(off + 1);
    if (len == 0) throw std::runtime_error("zero-length subtable");
    out.push_back({t[off], off});
    off += len;
  }
  return out;
}

class AcpiTables : public ::testing::Test {
 protected:
  AcpiConfig config = four_vcpus_two_nodes();
  std::vector<AcpiTable> tables = build_acpi_tables(config);
};

}  // namespace

TEST_F(AcpiTables, AreLaidOutInOrderBelowOneMiB) {
  std::vector<std::string> sigs;
  for (const auto& t : tables) sigs.push_back(t.signature);
  EXPECT_EQ(sigs, (std::vector<std::string>{"RSDP", "XSDT", "FACP", "DSDT", "APIC", "SRAT", "SLIT"}));
  EXPECT_EQ(tables[0].gpa, memory::kAcpiTablesStart);
  for (size_t i = 0; i < tables.size(); ++i) {
    EXPECT_EQ(tables[i].gpa % 16, 0u);
    EXPECT_LE(tables[i].gpa + tables[i].bytes.size(), memory::kOneMiB);
    if (i > 0) {
      EXPECT_GE(tables[i].gpa, tables[i - 1].gpa + tables[i - 1].bytes.size());
    }
  }
}

TEST_F(AcpiTables, HeadersHaveLengthChecksumAndOem) {
  const std::map<std::string, uint8_t> revisions = {{"XSDT", 1}, {"FACP", 6}, {"DSDT", 2},
                                                    {"APIC", 5}, {"SRAT", 3}, {"SLIT", 1}};
  for (const auto& t : tables) {
    if (t.signature == "RSDP") continue;
    SCOPED_TRACE(t.signature);
    EXPECT_EQ(text(t.bytes, 0, 4), t.signature);
    EXPECT_EQ(le(t.bytes, 4, 4), t.bytes.size());
    EXPECT_EQ(t.bytes[8], revisions.at(t.signature));
    EXPECT_EQ(byte_sum(t.bytes), 0);
    EXPECT_EQ(text(t.bytes, 10, 6), "AMALGM");
  }
}

TEST_F(AcpiTables, RsdpPointsAtXsdtWithBothChecksums) {
  const auto& r = tables[0].bytes;
  ASSERT_EQ(r.size(), 36u);
  EXPECT_EQ(text(r, 0, 8), "RSD PTR ");
  EXPECT_EQ(byte_sum(std::span(r).first(20)), 0);
  EXPECT_EQ(byte_sum(r), 0);
  EXPECT_EQ(text(r, 9, 6), "AMALGM");
  EXPECT_EQ(r[15], 2);               // revision
  EXPECT_EQ(le(r, 16, 4), 0u);       // no RSDT
  EXPECT_EQ(le(r, 20, 4), 36u);      // length
  EXPECT_EQ(le(r, 24, 8), find(tables, "XSDT").gpa);
}

TEST_F(AcpiTables, XsdtListsTheOtherTables) {
  const auto& x = find(tables, "XSDT").bytes;
  ASSERT_EQ(x.size(), 36u + 4 * 8);
  std::vector<uint64_t> expected;
  for (const char* sig : {"FACP", "APIC", "SRAT", "SLIT"}) expected.push_back(find(tables, sig).gpa);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(le(x, 36 + 8 * i, 8), expected[i]) << i;
}

TEST_F(AcpiTables, FadtIsHardwareReducedWithIoPortRegisters) {
  const auto& f = find(tables, "FACP").bytes;
  ASSERT_EQ(f.size(), 276u);
  const uint32_t flags = static_cast<uint32_t>(le(f, 112, 4));
  EXPECT_TRUE(flags & (1u << 20)) << "HW_REDUCED_ACPI";
  EXPECT_TRUE(flags & (1u << 10)) << "RESET_REG_SUP";
  EXPECT_EQ(le(f, 36, 4), 0u);  // FIRMWARE_CTRL
  EXPECT_EQ(le(f, 40, 4), 0u);  // DSDT (32-bit)
  EXPECT_EQ(le(f, 140, 8), find(tables, "DSDT").gpa);  // X_DSDT
  EXPECT_EQ(f[108], kCmosCenturyIndex);  // CENTURY: the RTC's century byte
  auto expect_io_gas = [&](size_t off, uint16_t port) {
    SCOPED_TRACE(off);
    EXPECT_EQ(f[off], 1);      // system I/O
    EXPECT_EQ(f[off + 1], 8);  // bit width
    EXPECT_EQ(f[off + 2], 0);  // bit offset
    EXPECT_EQ(f[off + 3], 1);  // byte access
    EXPECT_EQ(le(f, off + 4, 8), port);
  };
  expect_io_gas(116, kAcpiResetPort);
  EXPECT_EQ(f[128], kAcpiResetValue);
  expect_io_gas(244, kAcpiSleepControlPort);
  expect_io_gas(256, kAcpiSleepStatusPort);
  EXPECT_EQ(text(f, 268, 7), "AMALGAM");
  // The PM timer: PM_TMR_BLK, PM_TMR_LEN and X_PM_TMR_BLK (32-bit, dword
  // access), 24 bits wide (TMR_VAL_EXT clear).
  EXPECT_EQ(le(f, 76, 4), kAcpiPmTimerPort);
  EXPECT_EQ(f[91], 4);
  EXPECT_EQ(f[208], 1);
  EXPECT_EQ(f[209], 32);
  EXPECT_EQ(f[211], 3);
  EXPECT_EQ(le(f, 212, 8), kAcpiPmTimerPort);
  EXPECT_FALSE(flags & (1u << 8)) << "TMR_VAL_EXT";
}

TEST_F(AcpiTables, DsdtHasS5Com1AndRtc) {
  const auto& d = find(tables, "DSDT").bytes;
  auto contains = [&](std::vector<uint8_t> needle) {
    return std::search(d.begin() + 36, d.end(), needle.begin(), needle.end()) != d.end();
  };
  // Name(\_S5, Package(){5, 5})
  EXPECT_TRUE(contains({0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0A, 5, 0x0A, 5}));
  EXPECT_TRUE(contains({0x5B, 0x82}));                      // Device
  EXPECT_TRUE(contains({'C', 'O', 'M', '1', 0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x05, 0x01}));
  EXPECT_TRUE(contains({0x08, '_', 'U', 'I', 'D', 0x00}));
  EXPECT_TRUE(contains({0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00}));
  // RTC0: _HID EISAID("PNP0B00"), IO(Decode16, 0x70, 0x70, 1, 2), IRQNoFlags(){8}
  EXPECT_TRUE(contains({'R', 'T', 'C', '0', 0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0B, 0x00}));
  EXPECT_TRUE(contains({0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02, 0x22, 0x00, 0x01, 0x79, 0x00}));
  // The poweroff write a guest makes from this package is what the port expects.
  EXPECT_EQ((kAcpiS5SleepType << kAcpiSleepTypeShift) | kAcpiSleepEnable, 0x34);
}

TEST_F(AcpiTables, MadtDescribesApicsOverridesAndNmi) {
  const auto& m = find(tables, "APIC").bytes;
  EXPECT_EQ(le(m, 36, 4), memory::kLapicBase);
  EXPECT_EQ(le(m, 40, 4), 0u);  // PCAT_COMPAT off
  std::vector<uint32_t> uids, ids;
  int ioapics = 0, nmis = 0;
  std::vector<std::tuple<uint8_t, uint32_t, uint16_t>> overrides;
  for (auto [type, off] : subtables(m, 44)) {
    switch (type) {
      case 0:
        ASSERT_EQ(m[off + 1], 8);
        uids.push_back(m[off + 2]);
        ids.push_back(m[off + 3]);
        EXPECT_EQ(le(m, off + 4, 4), 1u);  // enabled
        break;
      case 1:
        ++ioapics;
        ASSERT_EQ(m[off + 1], 12);
        EXPECT_EQ(m[off + 2], config.ioapic_id);
        EXPECT_EQ(le(m, off + 4, 4), memory::kIoapicBase);
        EXPECT_EQ(le(m, off + 8, 4), 0u);  // GSI base
        break;
      case 2:
        ASSERT_EQ(m[off + 1], 10);
        EXPECT_EQ(m[off + 2], 0);  // ISA
        overrides.push_back({m[off + 3], static_cast<uint32_t>(le(m, off + 4, 4)),
                             static_cast<uint16_t>(le(m, off + 8, 2))});
        break;
      case 4:
        ++nmis;
        ASSERT_EQ(m[off + 1], 6);
        EXPECT_EQ(m[off + 2], 0xFF);
        EXPECT_EQ(m[off + 5], 1);  // LINT1
        break;
      default:
        ADD_FAILURE() << "unexpected MADT subtable " << int(type);
    }
  }
  EXPECT_EQ(uids, (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(ids, config.apic_ids);
  EXPECT_EQ(ioapics, 1);
  EXPECT_EQ(nmis, 1);
  using O = std::tuple<uint8_t, uint32_t, uint16_t>;
  EXPECT_EQ(overrides, (std::vector<O>{{0, 2, 0x5}, {9, 9, 0xD}}));  // edge/high, level/high
}

TEST_F(AcpiTables, SratMatchesTheNumaPlan) {
  const auto& s = find(tables, "SRAT").bytes;
  EXPECT_EQ(le(s, 36, 4), 1u);
  std::vector<std::pair<uint32_t, uint32_t>> cpus;  // (APIC ID, domain)
  std::vector<std::tuple<uint32_t, uint64_t, uint64_t>> mems;
  for (auto [type, off] : subtables(s, 48)) {
    if (type == 0) {
      ASSERT_EQ(s[off + 1], 16);
      uint32_t domain = s[off + 2] | static_cast<uint32_t>(le(s, off + 9, 3)) << 8;
      cpus.push_back({s[off + 3], domain});
      EXPECT_EQ(le(s, off + 4, 4), 1u);
    } else if (type == 1) {
      ASSERT_EQ(s[off + 1], 40);
      mems.push_back({static_cast<uint32_t>(le(s, off + 2, 4)), le(s, off + 8, 8), le(s, off + 16, 8)});
      EXPECT_EQ(le(s, off + 28, 4), 1u);  // enabled, not hot-pluggable
    } else {
      ADD_FAILURE() << "unexpected SRAT subtable " << int(type);
    }
  }
  std::vector<std::pair<uint32_t, uint32_t>> want_cpus;
  for (uint32_t v = 0; v < config.apic_ids.size(); ++v)
    want_cpus.push_back({config.apic_ids[v], config.numa.node_of_vcpu(v)});
  EXPECT_EQ(cpus, want_cpus);
  std::vector<std::tuple<uint32_t, uint64_t, uint64_t>> want_mems;
  for (uint32_t n = 0; n < config.numa.nodes.size(); ++n)
    for (const auto& r : config.numa.nodes[n].memory) want_mems.push_back({n, r.gpa, r.size});
  EXPECT_EQ(mems, want_mems);
  EXPECT_EQ(mems.size(), 3u);  // node 1 straddles the hole
}

TEST_F(AcpiTables, SlitHoldsTheDistanceMatrix) {
  const auto& s = find(tables, "SLIT").bytes;
  ASSERT_EQ(s.size(), 36u + 8 + 4);
  EXPECT_EQ(le(s, 36, 8), 2u);
  EXPECT_EQ(std::vector<uint8_t>(s.begin() + 44, s.end()), (std::vector<uint8_t>{10, 20, 20, 10}));
}

TEST(Acpi, WithoutNumaThereIsNoSratOrSlit) {
  AcpiConfig c;
  c.apic_ids = {0};
  auto tables = build_acpi_tables(c);
  EXPECT_EQ(tables.size(), 5u);
  EXPECT_THROW(find(tables, "SRAT"), std::runtime_error);
  EXPECT_EQ(le(find(tables, "XSDT").bytes, 4, 4), 36u + 2 * 8);
}

TEST(Acpi, The255VcpuMaximumFitsAndMoreIsAUsageError) {
  AcpiConfig c;
  for (uint32_t i = 0; i < 255; ++i) c.apic_ids.push_back(i);
  c.numa = make_numa_plan(memory::Layout(64ull << 30), 255, 64);
  auto tables = build_acpi_tables(c);
  EXPECT_LE(tables.back().gpa + tables.back().bytes.size(), memory::kOneMiB);
  for (const auto& t : tables) EXPECT_EQ(byte_sum(t.bytes), 0) << t.signature;

  c.apic_ids.push_back(300);
  c.numa = {};
  try {
    build_acpi_tables(c);
    ADD_FAILURE() << "256 vCPUs accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--vcpus 256"), std::string::npos) << e.what();
  }
  EXPECT_THROW(build_acpi_tables(AcpiConfig{}), UsageError);
}

TEST(Acpi, TablesThatDoNotFitBelowOneMiBAreAUsageError) {
  AcpiConfig c;
  c.apic_ids = {0, 1};
  EXPECT_THROW(build_acpi_tables(c, memory::kOneMiB - 256), UsageError);
}

TEST(Acpi, InconsistentConfigsAreRejected) {
  AcpiConfig c = four_vcpus_two_nodes();
  c.apic_ids[3] = 0xFF;
  EXPECT_THROW(build_acpi_tables(c), std::invalid_argument);
  c.apic_ids[3] = 0;  // repeated
  EXPECT_THROW(build_acpi_tables(c), std::invalid_argument);

  c = four_vcpus_two_nodes();
  c.numa.nodes[1].vcpus.pop_back();  // vCPU 3 in no node
  EXPECT_THROW(build_acpi_tables(c), std::invalid_argument);
  c.numa.nodes[1].vcpus.push_back(7);  // no such vCPU
  EXPECT_THROW(build_acpi_tables(c), std::invalid_argument);

  c = four_vcpus_two_nodes();
  c.numa.distances.pop_back();
  EXPECT_THROW(build_acpi_tables(c), std::invalid_argument);
}

TEST(Acpi, WriteAcpiTablesPutsThemInGuestMemory) {
  memory::GuestMemory mem(memory::Layout(256ull << 20));
  AcpiConfig c;
  c.apic_ids = {0, 1};
  c.numa = make_numa_plan(mem.layout(), 2, 1);
  EXPECT_EQ(write_acpi_tables(mem, c), memory::kAcpiTablesStart);
  for (const auto& t : build_acpi_tables(c)) {
    std::vector<uint8_t> back(t.bytes.size());
    mem.read(t.gpa, back);
    EXPECT_EQ(back, t.bytes) << t.signature;
  }
}
