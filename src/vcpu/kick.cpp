#include "vcpu/kick.hpp"

#include <csignal>
#include <mutex>

namespace amalgam::vcpu {

namespace {
thread_local kvm_run* t_run = nullptr;

void on_kick(int) {
  if (t_run) t_run->immediate_exit = 1;
}
}  // namespace

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_kick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    sigaction(kKickSignal, &sa, nullptr);
  });
}

void attach_kick_target(kvm_run* run) {
  t_run = run;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kKickSignal);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void kick_thread(pthread_t thread) { pthread_kill(thread, kKickSignal); }

}  // namespace amalgam::vcpu
