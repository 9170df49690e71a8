// The signals that stop a machine or a cluster: SIGINT, SIGTERM and SIGHUP.
// They stay blocked in every thread and are read from a signalfd
// (Machine::run, the launcher's Supervisor), so that none of them
// interrupts a thread at a random point, and one sent while amalgam is still
// starting waits, pending, for whoever reads it.
#pragma once

#include <signal.h>

namespace amalgam {

sigset_t stop_signal_set();
// Blocks them in the calling thread (and in the threads it starts later);
// returns the mask before. Throws SystemError when pthread_sigmask fails.
sigset_t block_stop_signals();

}  // namespace amalgam
