// The E820 memory map handed to the guest (ACPI spec ch. 15, "System Address
// Map Interfaces"; the PVH start info carries the same entries).
#pragma once

#include <cstdint>
#include <vector>

#include "memory/layout.hpp"

namespace amalgam::memory {

enum class E820Type : uint32_t { Ram = 1, Reserved = 2, Acpi = 3, Nvs = 4, Unusable = 5 };

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  E820Type type;
  bool operator==(const E820Entry&) const = default;
};

// Low memory, by convention of PC firmware: RAM up to 0x9FC00, the EBDA and
// legacy video/ROM area reserved up to 1 MiB; the ACPI tables sit in
// [kAcpiTablesStart, 1 MiB) which is reported as ACPI-reclaimable.
inline constexpr uint64_t kLowRamEnd = 0x9FC00;
inline constexpr uint64_t kAcpiTablesStart = 0xE0000;
// The x86 reset vector (F000:FFF0): its last 16 bytes below 1 MiB hold the
// reset stub (boot/reset_vector.hpp) instead of a firmware's entry.
inline constexpr uint64_t kResetVector = 0xFFFF0;
inline constexpr uint64_t kOneMiB = 0x100000;

// Sorted, non-overlapping entries for the given layout; the MMIO hole is
// reported as reserved so that the guest does not place devices there.
std::vector<E820Entry> build_e820(const Layout& layout);

}  // namespace amalgam::memory
