// One vCPU: its KVM handle, its userspace LAPIC and the thread that runs it.
//
// The loop (shape as in kvmtool and Firecracker): take pending start-up
// events, advance the LAPIC timer, inject what the LAPIC has for the CPU
// (KVM_INTERRUPT when the guest can take it, otherwise ask for an
// interrupt-window exit), KVM_RUN, dispatch the exit. HLT and wait-for-SIPI
// sleep on a condition variable; deliveries from other threads wake it, and a
// kick signal gets it out of KVM_RUN.
#pragma once

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>

#include "irq/lapic.hpp"
#include "kvm/vcpu.hpp"
#include "vcpu/vcpu_host.hpp"

namespace amalgam::vcpu {

struct VcpuStats {
  std::atomic<uint64_t> exits{0}, io_exits{0}, mmio_exits{0}, lapic_accesses{0}, halts{0},
      interrupts_injected{0}, ipis_sent{0};
};

class VcpuRunner {
 public:
  enum class State { Running, WaitForSipi };

  // apic_timer_hz is the LAPIC timer's input clock; the guest's TSC rate
  // comes from KVM.
  VcpuRunner(uint32_t index, kvm::Vcpu vcpu, uint32_t apic_id, bool bsp, uint64_t apic_timer_hz,
             VcpuHost& host);
  ~VcpuRunner();
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;

  kvm::Vcpu& kvm_vcpu() { return vcpu_; }
  uint32_t index() const { return index_; }
  uint64_t tsc_hz() const { return tsc_hz_; }
  void start_at_pvh_entry(uint64_t entry, uint64_t start_info);

  // Thread body: returns when the host is stopping or the vCPU failed.
  void run();

  // Thread-safe, from any thread.
  void deliver(const irq::InterruptMessage& message);
  void kick();
  // Runs f(lapic) with this vCPU's LAPIC locked (the router reads IDs).
  template <typename F>
  auto with_lapic(F&& f) {
    std::lock_guard lock(mu_);
    return f(static_cast<const irq::Lapic&>(lapic_));
  }
  std::unique_lock<std::mutex> lock() { return std::unique_lock(mu_); }
  const irq::Lapic& lapic_unlocked() const { return lapic_; }

  // Valid after run() returned.
  uint64_t final_rip() const { return final_rip_; }
  bool was_halted() const { return halted_ || state_ == State::WaitForSipi; }
  const VcpuStats& stats() const { return stats_; }

 private:
  bool prepare_entry();  // false: nothing to run yet (it waited); loop again
  void handle_exit();
  void handle_io();
  void handle_mmio();
  void handle_lapic_access(uint64_t offset, std::span<uint8_t> data, bool is_write);
  void handle_msr(bool is_write);
  void reset_for_init();
  void arm_timer(std::optional<uint64_t> deadline_ns);
  void wait(std::unique_lock<std::mutex>& lock, std::optional<uint64_t> deadline_ns);
  void fail(const std::string& what);
  void fail_shutdown();  // KVM_EXIT_SHUTDOWN
  uint64_t guest_tsc() const;

  uint32_t index_;
  kvm::Vcpu vcpu_;
  VcpuHost& host_;
  uint64_t tsc_hz_;
  int64_t tsc_offset_ = 0;  // guest TSC - host TSC

  std::mutex mu_;  // guards lapic_, kicked_, thread_
  std::condition_variable cv_;
  irq::Lapic lapic_;
  bool kicked_ = false;
  std::optional<pthread_t> thread_;

  // Only the vCPU thread touches these.
  State state_;
  bool halted_ = false;
  kvm_regs reset_regs_{};
  kvm_sregs reset_sregs_{};
  kvm_fpu reset_fpu_{};
  timer_t timer_{};
  bool timer_created_ = false;
  std::optional<uint64_t> armed_deadline_;
  uint64_t final_rip_ = 0;
  VcpuStats stats_;
};

}  // namespace amalgam::vcpu
