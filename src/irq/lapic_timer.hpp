// The LAPIC timer (Intel SDM vol. 3 11.5.4): a 32-bit down-counter clocked
// by the timer input divided by the divide configuration, in one-shot or
// periodic mode, or a TSC-deadline comparator (11.5.4.1). Time is passed in
// (host monotonic ns; guest TSC for the deadline mode).
#pragma once

#include <cstdint>
#include <optional>

namespace amalgam::irq {

class LapicTimer {
 public:
  enum class Mode : uint8_t { OneShot = 0, Periodic = 1, TscDeadline = 2 };

  LapicTimer(uint64_t timer_hz, uint64_t tsc_hz) : timer_hz_(timer_hz), tsc_hz_(tsc_hz) {}

  Mode mode() const { return mode_; }
  // A mode change disarms the timer (and clears IA32_TSC_DEADLINE).
  void set_mode(Mode mode);
  uint32_t divide_config() const { return divide_config_; }
  void set_divide_config(uint32_t value, uint64_t now_ns);
  uint32_t divisor() const;

  uint32_t initial_count() const { return initial_; }
  // Writing the initial count starts counting (0 stops); ignored in TSC-deadline mode.
  void set_initial_count(uint32_t count, uint64_t now_ns);
  uint32_t current_count(uint64_t now_ns) const;

  uint64_t tsc_deadline() const { return tsc_deadline_; }
  // Ignored unless in TSC-deadline mode; 0 disarms.
  void set_tsc_deadline(uint64_t deadline_tsc, uint64_t now_ns, uint64_t now_tsc);

  // True when the timer expired at or before now (once per expiry; periods
  // missed while nobody looked collapse into one, as the IRR bit would).
  bool expire(uint64_t now_ns);
  std::optional<uint64_t> deadline_ns() const { return armed_ ? std::optional(deadline_ns_) : std::nullopt; }

  void reset();

 private:
  uint64_t ticks_to_ns(uint64_t ticks) const;
  uint64_t ns_to_ticks(uint64_t ns) const;

  uint64_t timer_hz_;
  uint64_t tsc_hz_;
  Mode mode_ = Mode::OneShot;
  uint32_t divide_config_ = 0;
  uint32_t initial_ = 0;
  uint64_t start_ns_ = 0;  // when the current count was last equal to initial_
  bool counting_ = false;  // one-shot/periodic count in progress (current count > 0)
  bool armed_ = false;     // an expiry is due at deadline_ns_
  uint64_t deadline_ns_ = 0;
  uint64_t tsc_deadline_ = 0;
};

}  // namespace amalgam::irq
