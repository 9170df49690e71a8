// The Xen PVH boot ABI's hvm_start_info (xen/include/public/arch-x86/hvm/
// start_info.h, version 1): what a PVH kernel finds through EBX at its
// XEN_ELFNOTE_PHYS32_ENTRY. It sits at kStartInfoAddr with the memory map
// and the module list after it in the same page; the command line has the
// next page to itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "memory/e820.hpp"
#include "memory/guest_memory.hpp"

namespace amalgam::boot {

inline constexpr uint64_t kStartInfoAddr = 0x6000, kCmdlineAddr = 0x7000;
inline constexpr size_t kMaxCmdlineLength = 4095;  // plus the NUL, one page

inline constexpr uint32_t kHvmStartMagic = 0x336ec578;

// The ABI's structures, for writing and reading back.
struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;  // version 1 and later
  uint32_t memmap_entries;
  uint32_t reserved;
};
struct HvmModlistEntry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
struct HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // the E820 types (XEN_HVM_MEMMAP_TYPE_*)
  uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56 && sizeof(HvmModlistEntry) == 32 && sizeof(HvmMemmapEntry) == 24);

struct BootModule {
  uint64_t gpa;
  uint64_t size;
};

struct StartInfoConfig {
  std::string cmdline;
  std::vector<memory::E820Entry> e820;
  uint64_t rsdp_gpa = 0;
  std::vector<BootModule> modules;
};

// Writes the start info, memory map, module list and command line; returns
// kStartInfoAddr (the value for EBX). Throws UsageError naming --cmdline when
// the command line is longer than kMaxCmdlineLength or holds a NUL byte, and
// when the memory map and modules do not fit in the start info's page.
uint64_t write_start_info(const memory::GuestMemory& mem, const StartInfoConfig& config);

}  // namespace amalgam::boot
