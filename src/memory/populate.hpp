// Allocating anonymous memory up front (amalgam --preallocate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace amalgam::memory {

// Allocates [addr, addr+len) now, writable and zero-filled, in transparent
// huge pages where the host offers them (MADV_HUGEPAGE is advice only).
// Guest RAM that is resident before the guest's first access also lets KVM
// map it in 2 MiB pages, which it does not do for a huge page that only
// appears while a vCPU's first access waits for it. Uses
// MADV_POPULATE_WRITE (Linux 5.14) in steps; on an older kernel (EINVAL) it
// writes one byte of every page instead. The range must not be registered
// with userfaultfd (its faults would wait for this thread). Throws
// std::runtime_error naming `who` (the machine, node 1) when the host runs
// short of memory on the way (other nodes on this host may be allocating
// too), SystemError naming the call on any other failure.
void populate(uint8_t* addr, size_t len, std::string_view who);

// Throws std::runtime_error, before anything is allocated, when `bytes` is
// more than the host has available (MemAvailable of /proc/meminfo, less a
// reserve for everything else): running out halfway would bring the
// kernel's OOM killer, not an error. `who` names what wants the memory. No
// check when /proc/meminfo cannot be read.
void check_can_populate(uint64_t bytes, std::string_view who);

}  // namespace amalgam::memory
