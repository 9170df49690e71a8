// The LAPIC timer's counting (SDM 11.5.4): one-shot, periodic and
// TSC-deadline modes, with time passed in. It only says when it expires; the
// Lapic turns an expiry into an interrupt through the LVT timer entry.
#pragma once

#include <cstdint>
#include <optional>

namespace amalgam::irq {

// LVT timer bits 18:17 (SDM 11.5.1); 3 is reserved.
enum class TimerMode : uint8_t { OneShot = 0, Periodic = 1, TscDeadline = 2 };

// A periodic timer reloads no faster than this, so that a guest cannot make
// the host wake up every few nanoseconds (KVM's min_timer_period_us does the
// same). The first expiry after a write of the initial count is exact.
inline constexpr uint64_t kMinPeriodicTimerNs = 200'000;

class LapicTimer {
 public:
  // timer_hz: the timer's input clock before the divider; tsc_hz: the guest
  // TSC frequency. Both must be non-zero.
  LapicTimer(uint64_t timer_hz, uint64_t tsc_hz);

  TimerMode mode() const { return mode_; }
  // Switching between the counting modes and TSC-deadline disarms the timer
  // and clears the initial count and the deadline (SDM 11.5.4.1); switching
  // between one-shot and periodic keeps the current count running.
  void set_mode(TimerMode mode);

  // Divide configuration register: bits 0, 1 and 3 (SDM 11.5.4). A running
  // count keeps its current value and goes on at the new rate.
  uint32_t divide_config() const { return divide_config_; }
  void set_divide_config(uint32_t value, uint64_t now_ns);
  uint32_t divisor() const;

  // Initial count: 0 stops the timer; ignored in TSC-deadline mode.
  uint32_t initial_count() const { return initial_count_; }
  void set_initial_count(uint32_t count, uint64_t now_ns);
  uint32_t current_count(uint64_t now_ns) const;

  // IA32_TSC_DEADLINE: reads 0 and ignores writes outside TSC-deadline mode;
  // 0 disarms. The deadline is met when either the TSC or the time reaches it.
  uint64_t tsc_deadline() const;
  void set_tsc_deadline(uint64_t deadline_tsc, uint64_t now_ns, uint64_t now_tsc);

  // Moves to now; returns how many times the timer expired since the last
  // call: every period passed in periodic mode, else 0 or 1. The Lapic
  // decides what the missed periods become (Lapic::advance_time).
  uint64_t advance(uint64_t now_ns, uint64_t now_tsc);
  // The time between two periodic expiries (at least kMinPeriodicTimerNs).
  uint64_t period_ns() const { return reload_ns(); }
  std::optional<uint64_t> next_deadline_ns() const;

  void reset();

 private:
  uint64_t ticks_to_ns(uint64_t ticks) const;
  uint64_t ns_to_ticks(uint64_t ns) const;  // rounded up
  uint64_t reload_ns() const;

  uint64_t timer_hz_;
  uint64_t tsc_hz_;
  TimerMode mode_ = TimerMode::OneShot;
  uint32_t divide_config_ = 0;
  uint32_t initial_count_ = 0;
  bool counting_ = false;     // one-shot/periodic armed
  uint64_t next_expiry_ns_ = 0;
  uint64_t deadline_tsc_ = 0;  // TSC-deadline armed when non-zero
  uint64_t deadline_ns_ = 0;
};

}  // namespace amalgam::irq
