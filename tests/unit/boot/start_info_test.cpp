#include <gtest/gtest.h>

#include "boot/start_info.hpp"
#include "common/error.hpp"
#include "memory/e820.hpp"
#include "memory/guest_memory.hpp"

using namespace amalgam;
using namespace amalgam::boot;

namespace {

std::string read_cstring(const memory::GuestMemory& mem, uint64_t gpa, size_t max) {
  std::vector<uint8_t> buf(max);
  mem.read(gpa, buf);
  auto nul = std::find(buf.begin(), buf.end(), 0);
  EXPECT_NE(nul, buf.end()) << "no NUL";
  return std::string(buf.begin(), nul);
}

void expect_usage_error(const memory::GuestMemory& mem, const StartInfoConfig& c, const std::string& needle) {
  try {
    write_start_info(mem, c);
    ADD_FAILURE() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

class StartInfo : public ::testing::Test {
 protected:
  memory::GuestMemory mem{memory::Layout(8ull << 30)};
  StartInfoConfig config{"console=ttyS0 earlyprintk=serial", memory::build_e820(mem.layout()),
                         memory::kAcpiTablesStart, {{0x1000'0000, 0x20'0000}, {0x2000'0000, 0x1234}}};
};

}  // namespace

TEST_F(StartInfo, HeaderReadsBack) {
  EXPECT_EQ(write_start_info(mem, config), kStartInfoAddr);
  auto info = mem.read_object<HvmStartInfo>(kStartInfoAddr);
  EXPECT_EQ(info.magic, 0x336ec578u);
  EXPECT_EQ(info.version, 1u);
  EXPECT_EQ(info.flags, 0u);
  EXPECT_EQ(info.cmdline_paddr, kCmdlineAddr);
  EXPECT_EQ(info.rsdp_paddr, memory::kAcpiTablesStart);
  EXPECT_EQ(info.reserved, 0u);
  EXPECT_EQ(read_cstring(mem, info.cmdline_paddr, 4096), config.cmdline);
}

TEST_F(StartInfo, MemoryMapIsTheE820) {
  write_start_info(mem, config);
  auto info = mem.read_object<HvmStartInfo>(kStartInfoAddr);
  ASSERT_EQ(info.memmap_entries, config.e820.size());
  EXPECT_GE(info.memmap_paddr, kStartInfoAddr + sizeof(HvmStartInfo));
  EXPECT_EQ(info.memmap_paddr % 8, 0u);
  for (size_t i = 0; i < config.e820.size(); ++i) {
    auto e = mem.read_object<HvmMemmapEntry>(info.memmap_paddr + i * sizeof(HvmMemmapEntry));
    EXPECT_EQ(e.addr, config.e820[i].addr) << i;
    EXPECT_EQ(e.size, config.e820[i].size) << i;
    EXPECT_EQ(e.type, static_cast<uint32_t>(config.e820[i].type)) << i;
    EXPECT_EQ(e.reserved, 0u);
  }
}

TEST_F(StartInfo, ModulesReadBackAndStayInThePage) {
  write_start_info(mem, config);
  auto info = mem.read_object<HvmStartInfo>(kStartInfoAddr);
  ASSERT_EQ(info.nr_modules, 2u);
  EXPECT_GE(info.modlist_paddr, info.memmap_paddr + info.memmap_entries * sizeof(HvmMemmapEntry));
  EXPECT_LE(info.modlist_paddr + 2 * sizeof(HvmModlistEntry), kCmdlineAddr);
  for (size_t i = 0; i < 2; ++i) {
    auto m = mem.read_object<HvmModlistEntry>(info.modlist_paddr + i * sizeof(HvmModlistEntry));
    EXPECT_EQ(m.paddr, config.modules[i].gpa);
    EXPECT_EQ(m.size, config.modules[i].size);
    EXPECT_EQ(m.cmdline_paddr, 0u);
  }
}

TEST_F(StartInfo, NoModulesMeansNoModlist) {
  config.modules.clear();
  config.cmdline.clear();
  write_start_info(mem, config);
  auto info = mem.read_object<HvmStartInfo>(kStartInfoAddr);
  EXPECT_EQ(info.nr_modules, 0u);
  EXPECT_EQ(info.modlist_paddr, 0u);
  EXPECT_EQ(read_cstring(mem, kCmdlineAddr, 1), "");
}

TEST_F(StartInfo, CommandLineLimits) {
  config.cmdline.assign(kMaxCmdlineLength, 'x');
  write_start_info(mem, config);
  EXPECT_EQ(read_cstring(mem, kCmdlineAddr, 4096), config.cmdline);

  config.cmdline.push_back('y');
  expect_usage_error(mem, config, "--cmdline");
  config.cmdline = std::string("a\0b", 3);
  expect_usage_error(mem, config, "--cmdline");
}

TEST_F(StartInfo, TooManyModulesIsAUsageError) {
  config.modules.assign(200, BootModule{0x1000'0000, 0x1000});
  expect_usage_error(mem, config, "200 boot modules");
}
