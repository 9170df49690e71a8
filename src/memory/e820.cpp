#include "memory/e820.hpp"

#include <algorithm>

namespace amalgam::memory {

std::vector<E820Entry> build_e820(const Layout& layout) {
  std::vector<E820Entry> map;
  map.push_back({0, kLowRamEnd, E820Type::Ram});
  map.push_back({kLowRamEnd, kAcpiTablesStart - kLowRamEnd, E820Type::Reserved});
  map.push_back({kAcpiTablesStart, kOneMiB - kAcpiTablesStart, E820Type::Acpi});
  for (const auto& r : layout.ram()) {
    uint64_t start = r.gpa < kOneMiB ? kOneMiB : r.gpa;
    if (r.end() > start) map.push_back({start, r.end() - start, E820Type::Ram});
  }
  map.push_back({kMmioHoleStart, kMmioHoleEnd - kMmioHoleStart, E820Type::Reserved});
  std::sort(map.begin(), map.end(), [](auto& a, auto& b) { return a.addr < b.addr; });
  return map;
}

}  // namespace amalgam::memory
