#include "machine/numa_placement.hpp"

namespace amalgam::machine {

boot::NumaPlan numa_plan(const MachineConfig& config, const memory::Layout& layout) {
  auto plan = boot::make_numa_plan(layout, config.vcpus, config.numa_nodes);
  if (config.node_count > 1 && config.numa_nodes == config.node_count) {
    for (auto& n : plan.nodes) n.vcpus.clear();
    for (uint32_t v = 0; v < config.vcpus; ++v) plan.nodes[config.node_of_vcpu(v)].vcpus.push_back(v);
  }
  return plan;
}

uint32_t home_node(const boot::NumaPlan& plan, uint64_t gpa, uint32_t node_count) {
  for (uint32_t n = 0; n < plan.nodes.size(); ++n)
    for (const auto& r : plan.nodes[n].memory)
      if (gpa >= r.gpa && gpa < r.end()) return n % node_count;
  return 0;
}

}  // namespace amalgam::machine
