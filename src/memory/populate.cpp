#include "memory/populate.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>

#include "common/error.hpp"

namespace amalgam::memory {

namespace {
constexpr size_t kPopulateStep = 64ull << 20;  // a multiple of 2 MiB
}  // namespace

void check_can_populate(uint64_t bytes, std::string_view who) {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") {
      if (bytes > kib * 1024)
        throw std::runtime_error(fmt::format(
            "--preallocate: {} needs {} MiB of guest RAM, but the host has {} MiB available", who, bytes >> 20,
            kib >> 10));
      return;
    }
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
}

void populate(uint8_t* addr, size_t len) {
  if (len == 0) return;
  (void)::madvise(addr, len, MADV_HUGEPAGE);  // EINVAL: a host without THP keeps 4 KiB pages
  // In steps: the call holds the process's mmap lock, and gigabytes at once
  // kept other threads of the node (its receive thread, answering
  // heartbeats) from faulting or mapping memory for seconds.
  for (size_t done = 0; done < len;) {
    size_t step = std::min(len - done, kPopulateStep);
    if (::madvise(addr + done, step, MADV_POPULATE_WRITE) != 0) {
      if (errno != EINVAL || done != 0) throw SystemError("madvise(MADV_POPULATE_WRITE)", errno);
      const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
      for (size_t off = 0; off < len; off += page) *reinterpret_cast<volatile uint8_t*>(addr + off) = 0;
      return;
    }
    done += step;
  }
}

}  // namespace amalgam::memory
