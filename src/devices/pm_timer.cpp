#include "devices/pm_timer.hpp"

namespace amalgam::devices {

PmTimer::PmTimer(std::function<uint64_t()> now_ns) : now_ns_(std::move(now_ns)), start_ns_(now_ns_()) {}

uint32_t PmTimer::ticks_at(uint64_t ns) {
  // ns * f / 1e9 without overflow for centuries: split whole seconds off.
  uint64_t seconds = ns / 1'000'000'000, rest = ns % 1'000'000'000;
  uint64_t ticks = seconds * kFrequencyHz + rest * kFrequencyHz / 1'000'000'000;
  return static_cast<uint32_t>(ticks & kMask);
}

void PmTimer::read(uint64_t offset, std::span<uint8_t> data) {
  uint64_t value = ticks_at(now_ns_() - start_ns_);
  store_le(data, offset < 4 ? value >> (8 * offset) : 0);
}

}  // namespace amalgam::devices
