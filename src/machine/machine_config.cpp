#include "machine/machine_config.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "memory/layout.hpp"

namespace amalgam::machine {

void validate(const MachineConfig& config) {
  if (config.vcpus < 1 || config.vcpus > kMaxVcpus)
    throw UsageError(fmt::format("--vcpus {}: must be between 1 and {}", config.vcpus, kMaxVcpus));
  if (config.numa_nodes < 1 || config.numa_nodes > config.vcpus)
    throw UsageError(fmt::format("--numa {}: must be between 1 and the number of vCPUs ({})", config.numa_nodes,
                                 config.vcpus));
  if (config.memory_bytes < memory::kMinRamSize || config.memory_bytes > memory::kMaxRamSize ||
      config.memory_bytes % memory::kPageSize != 0)
    throw UsageError(fmt::format("--memory {}: must be a multiple of 4 KiB between {} MiB and {} GiB",
                                 config.memory_bytes, memory::kMinRamSize >> 20, memory::kMaxRamSize >> 30));
  if (config.timeout_seconds < 0)
    throw UsageError(fmt::format("--timeout {}: must not be negative", config.timeout_seconds));
}

}  // namespace amalgam::machine
