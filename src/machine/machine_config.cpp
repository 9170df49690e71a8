#include "machine/machine_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

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
  if (config.node_count < 1 || config.node_count > 64)
    throw UsageError(fmt::format("--nodes {}: must be between 1 and 64", config.node_count));
  if (config.node_count > config.vcpus)
    throw UsageError(fmt::format("--nodes {}: more nodes than vCPUs ({})", config.node_count, config.vcpus));
  if (!config.placement.empty() && config.placement.size() != config.vcpus)
    throw UsageError(fmt::format("--placement: {} entries for {} vCPUs", config.placement.size(), config.vcpus));
  if (config.timeout_seconds < 0)
    throw UsageError(fmt::format("--timeout {}: must not be negative", config.timeout_seconds));
}

std::vector<uint32_t> round_robin_placement(uint32_t vcpus, uint32_t nodes) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < vcpus; ++i) out.push_back(i % nodes);
  return out;
}

std::vector<uint32_t> parse_placement(const std::string& text, uint32_t vcpus, uint32_t nodes) {
  std::vector<uint32_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    unsigned long node = std::strtoul(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || node >= nodes)
      throw UsageError(fmt::format("--placement {}: '{}' is not a node number below {}", text, item, nodes));
    out.push_back(static_cast<uint32_t>(node));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (out.size() != vcpus)
    throw UsageError(fmt::format("--placement {}: {} entries for {} vCPUs", text, out.size(), vcpus));
  for (uint32_t n = 0; n < nodes; ++n)
    if (std::find(out.begin(), out.end(), n) == out.end())
      throw UsageError(fmt::format("--placement {}: node {} gets no vCPU", text, n));
  return out;
}

}  // namespace amalgam::machine
