// The guest-visible NUMA plan of a machine. With one NUMA node per node
// process (the default for --nodes N), NUMA node k is node process k: its
// vCPUs are the ones placed there and its memory is homed there, so a
// NUMA-aware guest keeps each thread's memory on its own host
// (docs/design.md, NUMA).
#pragma once

#include "boot/numa.hpp"
#include "machine/machine_config.hpp"
#include "memory/layout.hpp"

namespace amalgam::machine {

boot::NumaPlan numa_plan(const MachineConfig& config, const memory::Layout& layout);

// The node process that is home to a guest-physical address.
uint32_t home_node(const boot::NumaPlan& plan, uint64_t gpa, uint32_t node_count);

}  // namespace amalgam::machine
