// Loads an ELF64 x86-64 kernel for the Xen PVH boot protocol: PT_LOAD
// segments are copied to their physical addresses (p_paddr) and the 32-bit
// entry point comes from the XEN_ELFNOTE_PHYS32_ENTRY note; the vCPU then
// starts there in 32-bit protected mode with EBX = the hvm_start_info
// (start_info.hpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "memory/guest_memory.hpp"

namespace amalgam::boot {

inline constexpr uint32_t kXenElfNotePhys32Entry = 18;  // xen/include/public/elfnote.h

struct LoadedKernel {
  uint64_t pvh_entry;
  uint64_t load_start;  // lowest segment address
  uint64_t load_end;    // end of the highest segment (exclusive)
};

// `image` is the kernel file's contents and `name` its path, used in the
// UsageError messages ("kernel NAME: not an ELF file", "...: truncated
// program header", "...: segment 0x...+0x... is outside guest RAM", "...: no
// PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"). Every header, segment and note
// is checked against the image size and guest RAM before anything is
// written; segments must not overlap the boot data below 1 MiB (start info,
// command line, ACPI tables).
LoadedKernel load_pvh_elf(const memory::GuestMemory& mem, std::span<const uint8_t> image,
                          const std::string& name);

}  // namespace amalgam::boot
