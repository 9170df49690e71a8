#include "common/stop_signals.hpp"

#include <pthread.h>

#include "common/error.hpp"

namespace amalgam {

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

sigset_t block_stop_signals() {
  sigset_t set = stop_signal_set(), old;
  if (int err = pthread_sigmask(SIG_BLOCK, &set, &old); err != 0) throw SystemError("pthread_sigmask", err);
  return old;
}

}  // namespace amalgam
