#include "cli/node_commands.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <vector>

#include "cluster/node.hpp"
#include "cluster/supervisor.hpp"
#include "common/error.hpp"
#include "common/wall_clock.hpp"
#include "net/local_addresses.hpp"

namespace amalgam::cli {

namespace {

std::string self_executable() {
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n < 0) throw SystemError("readlink(/proc/self/exe)", errno);
  return std::string(path, static_cast<size_t>(n));
}

}  // namespace

int launch_nodes(int argc, char** argv, uint32_t nodes, const std::string& /*transport*/) {
  std::string exe = self_executable();
  std::string addresses = fmt::format("{}", fmt::join(net::pick_local_addresses(nodes), ","));

  // Every node gets the launcher's own machine flags (those after "run").
  int first = 1;
  while (first < argc && std::strcmp(argv[first], "run") != 0) ++first;
  // One guest clock for all nodes (docs/design.md, Guest time).
  std::string epoch = std::to_string(realtime_ns());
  std::vector<std::vector<std::string>> commands;
  for (uint32_t i = 0; i < nodes; ++i) {
    std::vector<std::string> cmd{exe, "node", "--node-id", std::to_string(i), "--addresses", addresses,
                                 "--report-fd", std::to_string(cluster::Supervisor::kReportFd), "--clock-epoch", epoch};
    for (int a = first + 1; a < argc; ++a) cmd.emplace_back(argv[a]);
    commands.push_back(std::move(cmd));
  }
  cluster::Supervisor supervisor(std::move(commands));
  auto result = supervisor.wait();
  if (!result.failure.empty()) fmt::print(stderr, "amalgam: {}\n", result.failure);
  return result.status;
}

int run_node(amalgam::machine::MachineConfig config, const std::string& addresses, cluster::NodeOptions options,
             bool stats, int report_fd) {
  options.addresses = cluster::parse_addresses(addresses, config.node_count);
  auto result = cluster::run_node(std::move(config), options, stats);
  if (!result.failure.empty()) {
    // Under the launcher the report goes to it; by hand, to the user.
    std::string line = result.failure + "\n";
    if (report_fd < 0 || ::write(report_fd, line.data(), line.size()) < 0)
      fmt::print(stderr, "amalgam: {}", line);
  }
  return result.status;
}

}  // namespace amalgam::cli
