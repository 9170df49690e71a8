// Interrupt messages: what one LAPIC or the IOAPIC sends to LAPICs.
//
// The ICR (SDM 11.6.1) and the IOAPIC redirection entry (82093AA 3.2.4) share
// the layout of their low 16 bits (vector, delivery mode, destination mode,
// level, trigger mode), so both are decoded here into one plain struct that
// can later be copied between hosts as is.
#pragma once

#include <cstdint>
#include <utility>

namespace amalgam::irq {

// Delivery modes as encoded in ICR / IOAPIC redirection entries (SDM 11.6.1).
// 3 is reserved.
enum class DeliveryMode : uint8_t {
  Fixed = 0,
  LowestPriority = 1,
  Smi = 2,
  Nmi = 4,
  Init = 5,
  StartUp = 6,
  ExtInt = 7,
};

// ICR bits 19:18.
enum class Shorthand : uint8_t { None = 0, Self = 1, AllIncludingSelf = 2, AllExcludingSelf = 3 };

// xAPIC destination 0xFF: every LAPIC, in physical and in logical mode.
inline constexpr uint32_t kBroadcastDestination = 0xFF;
// source_apic_id of messages that no LAPIC sent (the IOAPIC's).
inline constexpr uint32_t kNoSourceApic = 0xFFFF'FFFF;

struct InterruptMessage {
  DeliveryMode mode = DeliveryMode::Fixed;
  uint8_t vector = 0;
  bool logical_destination = false;
  uint32_t destination = 0;  // 8-bit xAPIC destination in the low bits
  Shorthand shorthand = Shorthand::None;
  bool level_triggered = false;
  bool assert_level = true;
  uint32_t source_apic_id = kNoSourceApic;

  bool operator==(const InterruptMessage&) const = default;
};

// Bits shared by ICR low and redirection entries.
inline constexpr uint32_t kVectorMask = 0xFF;
inline constexpr unsigned kDeliveryModeShift = 8;
inline constexpr uint32_t kDeliveryModeMask = 0x7u << kDeliveryModeShift;
inline constexpr uint32_t kLogicalDestination = 1u << 11;
inline constexpr uint32_t kDeliveryStatus = 1u << 12;
inline constexpr uint32_t kLevelAssert = 1u << 14;  // ICR only; RTE: Remote IRR
inline constexpr uint32_t kLevelTriggered = 1u << 15;
inline constexpr unsigned kShorthandShift = 18;       // ICR only
inline constexpr unsigned kXapicDestinationShift = 24;  // of ICR high / RTE high

// Whether a delivery mode value is one of the defined ones (3 is reserved).
bool is_valid_delivery_mode(uint32_t mode);

// ICR low/high (SDM 11.6.1) to a message, and back. decode_icr does not check
// the vector or the delivery mode: the LAPIC does that.
InterruptMessage decode_icr(uint32_t low, uint32_t high, uint32_t source_apic_id);
std::pair<uint32_t, uint32_t> encode_icr(const InterruptMessage& m);  // {low, high}

// A 64-bit IOAPIC redirection entry to the message it sends when its pin
// fires (82093AA 3.2.4): never a shorthand, always an assert.
InterruptMessage decode_redirection(uint64_t entry);

}  // namespace amalgam::irq
