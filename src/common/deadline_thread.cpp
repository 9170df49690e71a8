#include "common/deadline_thread.hpp"

#include <cstdio>
#include <cstdlib>

namespace amalgam {

void exit_on_stuck_thread(const std::string& what, std::chrono::milliseconds limit, int status) {
  std::fprintf(stderr, "amalgam: %s did not stop within %lld ms of the machine's stop; exiting\n", what.c_str(),
               static_cast<long long>(limit.count()));
  std::fflush(stderr);
  std::_Exit(status);
}

void DeadlineThread::join_or_exit(std::chrono::milliseconds limit, const std::string& what, int status) {
  if (!join_within(limit)) exit_on_stuck_thread(what, limit, status);
}

}  // namespace amalgam
