// Everything that describes one machine to run: sizes, kernel, limits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace amalgam::machine {

inline constexpr uint32_t kMaxVcpus = 254;  // 8-bit xAPIC IDs; 255 is broadcast and the IOAPIC needs one

struct MachineConfig {
  uint32_t vcpus = 1;
  uint64_t memory_bytes = 256ull << 20;
  uint32_t numa_nodes = 1;
  std::vector<uint8_t> kernel;  // ELF image bytes
  std::string kernel_name;      // for messages: the file or "guest NAME"
  std::string cmdline;
  std::optional<std::vector<uint8_t>> initrd;
  std::string initrd_name;
  double timeout_seconds = 0;  // 0: no limit
  bool baseline_cpu = false;
  bool forward_stdin = true;
};

// Throws UsageError naming the flag when a value is out of range.
void validate(const MachineConfig& config);

// How a run ended.
struct MachineResult {
  int status = 0;
  std::string failure;  // one line, empty when the guest ended the run itself
};

// Exit statuses amalgam itself chooses (the guest's own come from the
// debug-exit port): see README "Exit status".
inline constexpr int kStatusMachineFailure = 1;
inline constexpr int kStatusUsage = 2;
inline constexpr int kStatusGuestReset = 3;

}  // namespace amalgam::machine
