// Runtime internals shared between its own files; guests use rt.hpp.
#pragma once

#include "rt.hpp"

namespace rt::internal {

// System call through the VEC_SYSCALL gate (runtime/ring0.S).
inline uint64_t syscall(uint64_t nr, uint64_t a = 0, uint64_t b = 0) {
  asm volatile("int %[vec]" : "+a"(nr), "+S"(b) : "D"(a), [vec] "i"(VEC_SYSCALL) : "rcx", "rdx", "memory");
  return nr;
}
[[noreturn]] inline void exit(uint32_t status) {
  syscall(SYS_EXIT, status);
  __builtin_unreachable();
}

// Start info (Xen public/arch-x86/hvm/start_info.h), copied at boot.
constexpr uint32_t kStartInfoMagic = 0x336EC578;
struct StartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;  // version >= 1
  uint32_t memmap_entries;
  uint32_t reserved;
};
struct MemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};
constexpr uint32_t kMemmapRam = 1;

// bootinfo.cpp: reads start info, keeps the command line and memory map,
// maps RAM above 4 GiB. Returns the RSDP address from start info (0: none).
uint64_t read_start_info();
uint64_t ram_total();

// acpi.cpp: APIC IDs of the enabled processors in the MADT.
unsigned read_madt(uint64_t rsdp_paddr, uint32_t* apic_ids, unsigned max);

// time.cpp: finds the TSC and LAPIC timer frequencies (LAPIC enabled).
void init_time();
const char* time_source();

}  // namespace rt::internal
