#include "memory/guest_memory.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <stdexcept>

#include "memory/populate.hpp"

namespace amalgam::memory {

GuestMemory::GuestMemory(const Layout& layout) : layout_(layout) {
  for (const auto& r : layout_.ram()) {
    mappings_.push_back(Mapping::anonymous(r.size));
    // Transparent huge pages where the host offers them (as QEMU does for
    // guest RAM): one host fault per 2 MiB the guest touches first, not 512.
    // Advice only: a host without THP keeps 4 KiB pages. The DSM engine
    // turns it off again for the RAM it manages page by page.
    (void)::madvise(mappings_.back().data(), r.size, MADV_HUGEPAGE);
  }
}

void GuestMemory::preallocate() const {
  uint64_t bytes = 0;
  for (const auto& m : mappings_) bytes += m.size();
  check_can_populate(bytes, "the machine");
  for (const auto& m : mappings_) populate(m.data(), m.size(), "the machine");
}

std::vector<HostSlot> GuestMemory::slots() const {
  std::vector<HostSlot> out;
  for (size_t i = 0; i < mappings_.size(); ++i)
    out.push_back({layout_.ram()[i].gpa, layout_.ram()[i].size, mappings_[i].data()});
  return out;
}

uint8_t* GuestMemory::host_address(uint64_t gpa, uint64_t len) const {
  const auto& ram = layout_.ram();
  for (size_t i = 0; i < ram.size(); ++i) {
    const auto& r = ram[i];
    if (gpa >= r.gpa && len <= r.size && gpa - r.gpa <= r.size - len)
      return mappings_[i].data() + (gpa - r.gpa);
  }
  throw std::out_of_range(
      fmt::format("guest-physical range {:#x}+{:#x} is not RAM", gpa, len));
}

void GuestMemory::write(uint64_t gpa, std::span<const uint8_t> bytes) const {
  if (bytes.empty()) return;
  std::memcpy(host_address(gpa, bytes.size()), bytes.data(), bytes.size());
}

void GuestMemory::read(uint64_t gpa, std::span<uint8_t> bytes) const {
  if (bytes.empty()) return;
  std::memcpy(bytes.data(), host_address(gpa, bytes.size()), bytes.size());
}

}  // namespace amalgam::memory
