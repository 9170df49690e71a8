// Getting a vCPU thread out of KVM_RUN: a signal (SIGUSR1) aimed at the
// thread whose handler sets kvm_run.immediate_exit. If the signal lands just
// before KVM_RUN is entered, immediate_exit makes KVM_RUN return at once
// (Documentation/virt/kvm/api.rst, "immediate_exit"), so no kick is lost.
#pragma once

#include "kvm/kvm_abi.hpp"
#include <pthread.h>

#include <csignal>

namespace amalgam::vcpu {

inline constexpr int kKickSignal = SIGUSR1;

// Installs the process-wide handler; idempotent.
void install_kick_handler();
// Called on the vCPU thread before its first KVM_RUN.
void attach_kick_target(kvm_run* run);
// Sends the kick to a vCPU thread.
void kick_thread(pthread_t thread);

}  // namespace amalgam::vcpu
