#include "memory/layout.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.hpp"

namespace amalgam::memory {

Layout::Layout(uint64_t ram_size) : ram_size_(ram_size) {
  if (ram_size < kMinRamSize || ram_size > kMaxRamSize)
    throw UsageError(fmt::format("memory size {} bytes is out of range ({} MiB to {} GiB)",
                                 ram_size, kMinRamSize >> 20, kMaxRamSize >> 30));
  if (ram_size % kPageSize != 0)
    throw UsageError(fmt::format("memory size {} bytes is not a multiple of 4 KiB", ram_size));
  uint64_t low = std::min(ram_size, kMmioHoleStart);
  ram_.push_back({0, low});
  if (ram_size > low) ram_.push_back({kMmioHoleEnd, ram_size - low});
}

bool Layout::is_ram(uint64_t gpa, uint64_t len) const {
  for (const auto& r : ram_)
    if (gpa >= r.gpa && len <= r.size && gpa - r.gpa <= r.size - len) return true;
  return false;
}

uint64_t Layout::ram_offset_to_gpa(uint64_t offset) const {
  for (const auto& r : ram_) {
    if (offset < r.size) return r.gpa + offset;
    offset -= r.size;
  }
  return ram_.back().end();
}

}  // namespace amalgam::memory
