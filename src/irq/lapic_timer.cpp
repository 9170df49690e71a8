#include "irq/lapic_timer.hpp"

namespace amalgam::irq {

namespace {
__extension__ typedef unsigned __int128 u128;
constexpr uint64_t kNsPerSecond = 1'000'000'000;
}  // namespace

uint32_t LapicTimer::divisor() const {
  // Divide configuration bits 3,1,0 (SDM figure 11-10): 000 = 2 ... 110 = 128, 111 = 1.
  uint32_t code = ((divide_config_ & 0x8) >> 1) | (divide_config_ & 0x3);
  return code == 7 ? 1 : 2u << code;
}

uint64_t LapicTimer::ticks_to_ns(uint64_t ticks) const {
  return static_cast<uint64_t>(static_cast<u128>(ticks) * divisor() * kNsPerSecond / timer_hz_);
}

uint64_t LapicTimer::ns_to_ticks(uint64_t ns) const {
  return static_cast<uint64_t>(static_cast<u128>(ns) * timer_hz_ / (static_cast<u128>(kNsPerSecond) * divisor()));
}

void LapicTimer::set_mode(Mode mode) {
  if (mode == mode_) return;
  mode_ = mode;
  counting_ = false;
  armed_ = false;
  initial_ = 0;
  tsc_deadline_ = 0;
}

void LapicTimer::set_divide_config(uint32_t value, uint64_t now_ns) {
  uint32_t current = current_count(now_ns);
  divide_config_ = value & 0xB;
  if (counting_) {
    // Keep the count where it is; it goes on at the new rate.
    uint64_t done = ticks_to_ns(initial_ - current);
    start_ns_ = now_ns >= done ? now_ns - done : 0;
    deadline_ns_ = start_ns_ + ticks_to_ns(initial_);
  }
}

void LapicTimer::set_initial_count(uint32_t count, uint64_t now_ns) {
  if (mode_ == Mode::TscDeadline) return;
  initial_ = count;
  start_ns_ = now_ns;
  counting_ = count != 0;
  armed_ = counting_;
  deadline_ns_ = now_ns + ticks_to_ns(count);
}

uint32_t LapicTimer::current_count(uint64_t now_ns) const {
  if (mode_ == Mode::TscDeadline || !counting_) return 0;
  uint64_t elapsed = ns_to_ticks(now_ns > start_ns_ ? now_ns - start_ns_ : 0);
  if (mode_ == Mode::Periodic) return initial_ - static_cast<uint32_t>(elapsed % initial_);
  return elapsed >= initial_ ? 0 : initial_ - static_cast<uint32_t>(elapsed);
}

void LapicTimer::set_tsc_deadline(uint64_t deadline_tsc, uint64_t now_ns, uint64_t now_tsc) {
  if (mode_ != Mode::TscDeadline) return;
  tsc_deadline_ = deadline_tsc;
  armed_ = deadline_tsc != 0;
  uint64_t ahead = deadline_tsc > now_tsc ? deadline_tsc - now_tsc : 0;
  deadline_ns_ = now_ns + static_cast<uint64_t>(static_cast<u128>(ahead) * kNsPerSecond / tsc_hz_);
}

bool LapicTimer::expire(uint64_t now_ns) {
  if (!armed_ || now_ns < deadline_ns_) return false;
  switch (mode_) {
    case Mode::OneShot:
      armed_ = false;
      counting_ = false;
      break;
    case Mode::Periodic: {
      uint64_t period = ticks_to_ns(initial_);
      if (period == 0) period = 1;
      uint64_t periods = (now_ns - start_ns_) / period;
      start_ns_ += periods * period;
      deadline_ns_ = start_ns_ + period;
      break;
    }
    case Mode::TscDeadline:
      armed_ = false;
      tsc_deadline_ = 0;  // reads 0 once it has fired (SDM 11.5.4.1)
      break;
  }
  return true;
}

void LapicTimer::reset() {
  mode_ = Mode::OneShot;
  divide_config_ = 0;
  initial_ = 0;
  start_ns_ = 0;
  counting_ = false;
  armed_ = false;
  deadline_ns_ = 0;
  tsc_deadline_ = 0;
}

}  // namespace amalgam::irq
