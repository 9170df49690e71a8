// Shared set-up for the LAPIC tests: a 1 GHz timer clock (1 tick per ns
// before the divider) and a 2 GHz TSC.
#pragma once

#include <cstdint>

#include "irq/lapic.hpp"
#include "irq/lapic_regs.hpp"

namespace amalgam::irq::test {

inline constexpr uint64_t kTimerHz = 1'000'000'000;
inline constexpr uint64_t kTscHz = 2'000'000'000;

inline Lapic make_lapic(uint32_t id = 0, bool bsp = true) { return Lapic(id, bsp, kTimerHz, kTscHz); }

// A LAPIC as an OS leaves it: software-enabled, spurious vector 0xFF.
inline Lapic enabled_lapic(uint32_t id = 0, bool bsp = true) {
  Lapic l = make_lapic(id, bsp);
  l.write(reg::kSvr, 0x1FF, 0);
  return l;
}

inline InterruptMessage fixed(uint8_t vector, bool level = false) {
  return InterruptMessage{.mode = DeliveryMode::Fixed, .vector = vector, .level_triggered = level};
}

// The CPU takes the pending vector, if any; returns it.
inline std::optional<uint8_t> take(Lapic& l) {
  auto v = l.pending_vector();
  if (v) l.acknowledge(*v);
  return v;
}

inline void eoi(Lapic& l) { l.write(reg::kEoi, 0, 0); }

}  // namespace amalgam::irq::test
