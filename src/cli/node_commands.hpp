// `amalgam run --nodes N` (the launcher) and `amalgam node` (one node).
#pragma once

#include <cstdint>
#include <string>

#include "machine/machine_config.hpp"

namespace amalgam::cli {

// Starts N `amalgam node` processes on this machine, on loopback addresses,
// with the same machine flags, and supervises them (src/cluster/supervisor).
int launch_nodes(int argc, char** argv, uint32_t nodes, const std::string& transport);

// Runs this process as one node; addresses: "host:port,host:port,...".
// report_fd >= 0: the launcher's report pipe takes the failure line.
int run_node(amalgam::machine::MachineConfig config, const std::string& addresses, const std::string& transport,
             uint32_t busy_poll_us, bool stats, int report_fd);

}  // namespace amalgam::cli
