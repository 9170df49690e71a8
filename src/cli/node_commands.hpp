// `amalgam run --nodes N` (the launcher) and `amalgam node` (one node).
#pragma once

#include <cstdint>
#include <string>

#include "cluster/node.hpp"
#include "machine/machine_config.hpp"

namespace amalgam::cli {

// Starts N `amalgam node` processes on this machine, on loopback addresses,
// with the same machine flags, and supervises them (src/cluster/supervisor).
int launch_nodes(int argc, char** argv, uint32_t nodes, const std::string& transport);

// Runs this process as one node; addresses: "host:port,host:port,..." (for
// options.addresses). report_fd >= 0: the launcher's report pipe takes the
// failure line.
int run_node(amalgam::machine::MachineConfig config, const std::string& addresses, cluster::NodeOptions options,
             bool stats, int report_fd);

}  // namespace amalgam::cli
