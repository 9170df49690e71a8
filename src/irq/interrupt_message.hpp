// An interrupt message between interrupt controllers: what an ICR write or
// an IOAPIC redirection produces (Intel SDM vol. 3 11.6.1, 82093AA 3.2.4).
// A plain struct, since later it crosses hosts.
#pragma once

#include <cstdint>

namespace amalgam::irq {

enum class DeliveryMode : uint8_t {
  Fixed = 0,
  LowestPriority = 1,
  Smi = 2,
  Nmi = 4,
  Init = 5,
  StartUp = 6,
  ExtInt = 7,
};

enum class Shorthand : uint8_t { None = 0, Self = 1, AllIncludingSelf = 2, AllExcludingSelf = 3 };

inline constexpr uint32_t kBroadcastDestination = 0xFF;  // xAPIC: every LAPIC
inline constexpr uint32_t kNoSource = 0xFFFF'FFFF;       // source of IOAPIC messages

struct InterruptMessage {
  DeliveryMode mode = DeliveryMode::Fixed;
  uint8_t vector = 0;
  bool logical_destination = false;
  uint32_t destination = 0;  // 8-bit xAPIC destination
  Shorthand shorthand = Shorthand::None;
  bool level_triggered = false;
  bool assert_level = true;
  uint32_t source_apic_id = kNoSource;
};

}  // namespace amalgam::irq
