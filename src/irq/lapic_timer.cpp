#include "irq/lapic_timer.hpp"

#include <algorithm>
#include <stdexcept>

namespace amalgam::irq {

namespace {

__extension__ typedef unsigned __int128 u128;
constexpr uint64_t kNsPerSecond = 1'000'000'000;

// a * b / c rounded up, without overflow for any 64-bit a, b, c (c != 0);
// results that do not fit saturate.
uint64_t mul_div_ceil(uint64_t a, uint64_t b, uint64_t c) {
  u128 r = (static_cast<u128>(a) * b + c - 1) / c;
  return r > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(r);
}

uint64_t saturating_add(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

}  // namespace

LapicTimer::LapicTimer(uint64_t timer_hz, uint64_t tsc_hz) : timer_hz_(timer_hz), tsc_hz_(tsc_hz) {
  if (timer_hz == 0 || tsc_hz == 0) throw std::invalid_argument("LAPIC timer: zero clock frequency");
}

uint32_t LapicTimer::divisor() const {
  // Bits 3,1:0 as a 3-bit value n: divide by 2^(n+1), 0b111 divides by 1.
  uint32_t n = ((divide_config_ & 8) >> 1) | (divide_config_ & 3);
  return 1u << ((n + 1) & 7);
}

uint64_t LapicTimer::ticks_to_ns(uint64_t ticks) const {
  return mul_div_ceil(ticks * divisor(), kNsPerSecond, timer_hz_);
}

uint64_t LapicTimer::ns_to_ticks(uint64_t ns) const {
  return mul_div_ceil(ns, timer_hz_, kNsPerSecond * divisor());
}

uint64_t LapicTimer::reload_ns() const {
  return std::max(ticks_to_ns(initial_count_), kMinPeriodicTimerNs);
}

void LapicTimer::set_mode(TimerMode mode) {
  if ((mode == TimerMode::TscDeadline) != (mode_ == TimerMode::TscDeadline)) {
    counting_ = false;
    initial_count_ = 0;
    deadline_tsc_ = 0;
  }
  mode_ = mode;
}

void LapicTimer::set_divide_config(uint32_t value, uint64_t now_ns) {
  uint32_t old_divisor = divisor();
  divide_config_ = value & 0xB;
  if (counting_ && now_ns < next_expiry_ns_) {
    uint64_t remaining = next_expiry_ns_ - now_ns;
    next_expiry_ns_ = saturating_add(now_ns, mul_div_ceil(remaining, divisor(), old_divisor));
  }
}

void LapicTimer::set_initial_count(uint32_t count, uint64_t now_ns) {
  if (mode_ == TimerMode::TscDeadline) return;  // SDM 11.5.4.1
  initial_count_ = count;
  counting_ = count != 0;
  next_expiry_ns_ = saturating_add(now_ns, ticks_to_ns(count));
}

uint32_t LapicTimer::current_count(uint64_t now_ns) const {
  if (!counting_) return 0;
  uint64_t remaining;
  if (now_ns < next_expiry_ns_) {
    remaining = next_expiry_ns_ - now_ns;
  } else if (mode_ == TimerMode::Periodic) {
    // Expired but not advanced yet: it has reloaded in the meantime.
    remaining = reload_ns() - (now_ns - next_expiry_ns_) % reload_ns();
  } else {
    return 0;
  }
  return static_cast<uint32_t>(std::min<uint64_t>(ns_to_ticks(remaining), initial_count_));
}

uint64_t LapicTimer::tsc_deadline() const {
  return mode_ == TimerMode::TscDeadline ? deadline_tsc_ : 0;
}

void LapicTimer::set_tsc_deadline(uint64_t deadline_tsc, uint64_t now_ns, uint64_t now_tsc) {
  if (mode_ != TimerMode::TscDeadline) return;
  deadline_tsc_ = deadline_tsc;
  deadline_ns_ = deadline_tsc <= now_tsc
                     ? now_ns
                     : saturating_add(now_ns, mul_div_ceil(deadline_tsc - now_tsc, kNsPerSecond, tsc_hz_));
}

uint64_t LapicTimer::advance(uint64_t now_ns, uint64_t now_tsc) {
  if (mode_ == TimerMode::TscDeadline) {
    if (deadline_tsc_ == 0 || (now_tsc < deadline_tsc_ && now_ns < deadline_ns_)) return 0;
    deadline_tsc_ = 0;  // fires once and disarms (SDM 11.5.4.1)
    return 1;
  }
  if (!counting_ || now_ns < next_expiry_ns_) return 0;
  if (mode_ != TimerMode::Periodic) {
    counting_ = false;
    return 1;
  }
  uint64_t reload = reload_ns();
  uint64_t expiries = (now_ns - next_expiry_ns_) / reload + 1;
  next_expiry_ns_ += reload * expiries;
  return expiries;
}

std::optional<uint64_t> LapicTimer::next_deadline_ns() const {
  if (mode_ == TimerMode::TscDeadline) {
    if (deadline_tsc_ == 0) return std::nullopt;
    return deadline_ns_;
  }
  if (!counting_) return std::nullopt;
  return next_expiry_ns_;
}

void LapicTimer::reset() { *this = LapicTimer(timer_hz_, tsc_hz_); }

}  // namespace amalgam::irq
