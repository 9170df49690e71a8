#include "memory/populate.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/error.hpp"

namespace amalgam::memory {

namespace {

constexpr size_t kPopulateStep = 64ull << 20;  // a multiple of 2 MiB
// Left to the kernel and everything else: allocating up to the last byte of
// MemAvailable would still wake the OOM killer.
constexpr uint64_t kReserve = 256ull << 20;

// MemAvailable of /proc/meminfo, in bytes; nullopt when it cannot be read.
std::optional<uint64_t> available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") return kib * 1024;
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

// MemAvailable when `bytes` and the reserve do not fit in it; nullopt when
// they do, or when it cannot be read.
std::optional<uint64_t> too_little_for(uint64_t bytes) {
  auto available = available_bytes();
  if (available && bytes + kReserve > *available) return available;
  return std::nullopt;
}

}  // namespace

void check_can_populate(uint64_t bytes, std::string_view who) {
  if (bytes == 0) return;
  if (auto available = too_little_for(bytes))
    throw std::runtime_error(fmt::format("--preallocate: {} needs {} MiB of guest RAM, but the host has {} MiB available",
                                         who, bytes >> 20, *available >> 20));
}

void populate(uint8_t* addr, size_t len, std::string_view who) {
  if (len == 0) return;
  (void)::madvise(addr, len, MADV_HUGEPAGE);  // EINVAL: a host without THP keeps 4 KiB pages
  // In steps: the call holds the process's mmap lock, and gigabytes at once
  // kept other threads of the node (its receive thread, answering
  // heartbeats) from faulting or mapping memory for seconds. Before each
  // step, what the host has left is read again: other nodes on the same
  // host may be allocating their shares at the same time.
  for (size_t done = 0; done < len;) {
    size_t step = std::min(len - done, kPopulateStep);
    if (auto available = too_little_for(step))
      throw std::runtime_error(
          fmt::format("--preallocate: {} ran out of host memory after {} of {} MiB of guest RAM ({} MiB available)",
                      who, done >> 20, len >> 20, *available >> 20));
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
