// The guest-physical address map: where RAM lives and where the MMIO hole is.
//
// RAM below 4 GiB stops at the hole (3 GiB..4 GiB, as on PC chipsets); the
// rest is placed from 4 GiB up. The hole holds the IOAPIC (0xFEC00000) and
// the LAPICs (0xFEE00000), Intel SDM vol. 3 ch. 11.4.1 and the 82093AA
// datasheet give those default bases.
#pragma once

#include <cstdint>
#include <vector>

namespace amalgam::memory {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kMmioHoleStart = 0xC000'0000;
inline constexpr uint64_t kMmioHoleEnd = 0x1'0000'0000;
inline constexpr uint64_t kIoapicBase = 0xFEC0'0000;
inline constexpr uint64_t kLapicBase = 0xFEE0'0000;
inline constexpr uint64_t kMinRamSize = 16ull << 20;
inline constexpr uint64_t kMaxRamSize = 1ull << 40;  // 1 TiB

struct RamRange {
  uint64_t gpa;
  uint64_t size;
  uint64_t end() const { return gpa + size; }
};

class Layout {
 public:
  // Throws UsageError when ram_size is outside [kMinRamSize, kMaxRamSize] or
  // not a multiple of the page size.
  explicit Layout(uint64_t ram_size);

  uint64_t ram_size() const { return ram_size_; }
  const std::vector<RamRange>& ram() const { return ram_; }
  bool is_ram(uint64_t gpa, uint64_t len) const;
  // The guest-physical address of the n-th byte of RAM (RAM counted without
  // the hole): used to split RAM into NUMA nodes by size.
  uint64_t ram_offset_to_gpa(uint64_t offset) const;

 private:
  uint64_t ram_size_;
  std::vector<RamRange> ram_;
};

}  // namespace amalgam::memory
