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
  uint32_t dsm_prefetch = 0;  // DSM read-ahead pages on a remote read miss (dsm::Options::prefetch)
  uint32_t dsm_claim = 0;     // DSM first-touch run of untouched home pages (dsm::Options::claim)
  uint32_t dsm_hold_us = 0;   // DSM: a page just mapped is kept this long (dsm::DsmEngine::set_hold)
  // Guest RAM allocated before the guest runs: all of it on one node, each
  // node's own share on several (dsm::Options::preallocate).
  bool preallocate = false;
  // Host CLOCK_REALTIME, in ns, at which the guest's kvmclock reads zero: the
  // launcher gives every node the same one. 0: when this machine starts.
  uint64_t clock_epoch_ns = 0;

  // One node of several: this process runs the vCPUs whose entry in
  // placement is node_id; node 0 also loads the guest and hosts the devices.
  uint32_t node_id = 0;
  uint32_t node_count = 1;
  std::vector<uint32_t> placement;  // node of each vCPU; empty: all on node 0
  uint32_t node_of_vcpu(uint32_t vcpu) const { return placement.empty() ? 0 : placement[vcpu]; }
};

// Throws UsageError naming the flag when a value is out of range.
void validate(const MachineConfig& config);

// How a run ended.
struct MachineResult {
  int status = 0;
  std::string failure;  // one line, empty when the guest ended the run itself
  bool by_signal = false;
};

// Round-robin: vCPU i on node i % nodes.
std::vector<uint32_t> round_robin_placement(uint32_t vcpus, uint32_t nodes);
// "0,1,1,0": one node per vCPU; throws UsageError naming --placement.
std::vector<uint32_t> parse_placement(const std::string& text, uint32_t vcpus, uint32_t nodes);

// Exit statuses amalgam itself chooses (the guest's own come from the
// debug-exit port): see README "Exit status".
inline constexpr int kStatusMachineFailure = 1;
inline constexpr int kStatusUsage = 2;
inline constexpr int kStatusGuestReset = 3;

}  // namespace amalgam::machine
