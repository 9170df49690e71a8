#include "boot/start_info.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace amalgam::boot {

uint64_t write_start_info(const memory::GuestMemory& mem, const StartInfoConfig& config) {
  if (config.cmdline.size() > kMaxCmdlineLength)
    throw UsageError(fmt::format("--cmdline: the kernel command line is {} bytes, at most {} are allowed",
                                 config.cmdline.size(), kMaxCmdlineLength));
  if (config.cmdline.find('\0') != std::string::npos)
    throw UsageError("--cmdline: the kernel command line contains a NUL byte");

  const uint64_t memmap = kStartInfoAddr + sizeof(HvmStartInfo);
  const uint64_t modlist = memmap + config.e820.size() * sizeof(HvmMemmapEntry);
  const uint64_t end = modlist + config.modules.size() * sizeof(HvmModlistEntry);
  if (end > kCmdlineAddr)
    throw UsageError(fmt::format(
        "{} memory map entries and {} boot modules do not fit in the PVH start info page",
        config.e820.size(), config.modules.size()));

  HvmStartInfo info{};
  info.magic = kHvmStartMagic;
  info.version = 1;
  info.nr_modules = static_cast<uint32_t>(config.modules.size());
  info.modlist_paddr = config.modules.empty() ? 0 : modlist;
  info.cmdline_paddr = kCmdlineAddr;
  info.rsdp_paddr = config.rsdp_gpa;
  info.memmap_paddr = memmap;
  info.memmap_entries = static_cast<uint32_t>(config.e820.size());
  mem.write_object(kStartInfoAddr, info);

  for (size_t i = 0; i < config.e820.size(); ++i) {
    const auto& e = config.e820[i];
    mem.write_object(memmap + i * sizeof(HvmMemmapEntry),
                     HvmMemmapEntry{e.addr, e.size, static_cast<uint32_t>(e.type), 0});
  }
  for (size_t i = 0; i < config.modules.size(); ++i) {
    const auto& m = config.modules[i];
    mem.write_object(modlist + i * sizeof(HvmModlistEntry), HvmModlistEntry{m.gpa, m.size, 0, 0});
  }

  // The string and its NUL; the rest of the page is left as it was.
  std::vector<uint8_t> cmdline(config.cmdline.begin(), config.cmdline.end());
  cmdline.push_back(0);
  mem.write(kCmdlineAddr, cmdline);
  return kStartInfoAddr;
}

}  // namespace amalgam::boot
