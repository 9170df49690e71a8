// The launcher's side of a multi-node run on one machine: starts one node
// process per node, watches them, and turns their endings into one result.
// Each node writes its one-line failure (if any) to a report pipe on fd 3
// instead of stderr, so that the launcher alone speaks for the machine.
//
// Every node gets PR_SET_PDEATHSIG(SIGKILL), so no node outlives the
// launcher. When node 0 ends, its status is the machine's; when any node dies
// (non-zero exit or a signal) the others are told to stop (SIGTERM, then
// SIGKILL after a grace period) and the result names the node. SIGINT and
// SIGTERM to the launcher are passed on to every node.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace amalgam::cluster {

struct SupervisorResult {
  int status = 0;
  std::string failure;  // one line naming the node; empty on a normal end
};

class Supervisor {
 public:
  static constexpr int kReportFd = 3;
  // Each command is argv for one node (argv[0] is the program to exec).
  explicit Supervisor(std::vector<std::vector<std::string>> node_commands,
                      std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Blocks until every node has ended.
  SupervisorResult wait();
  pid_t pid(size_t node) const { return nodes_[node].pid; }

 private:
  struct Node {
    pid_t pid = -1;
    UniqueFd pidfd;
    bool ended = false;
    int wait_status = 0;
    UniqueFd report;  // read end of the node's report pipe
    std::string report_line;
  };
  void spawn(size_t index, const std::vector<std::string>& argv);
  void signal_all(int sig);
  bool reap(size_t index);  // true when it has ended
  static std::string describe(int wait_status);

  std::vector<Node> nodes_;
  std::chrono::milliseconds grace_;
};

}  // namespace amalgam::cluster
