#include "irq/message.hpp"

namespace amalgam::irq {

bool is_valid_delivery_mode(uint32_t mode) { return mode <= 7 && mode != 3; }

namespace {

// The low 16 bits common to ICR and redirection entries.
InterruptMessage decode_common(uint32_t low, uint32_t destination) {
  InterruptMessage m;
  m.vector = static_cast<uint8_t>(low & kVectorMask);
  m.mode = static_cast<DeliveryMode>((low & kDeliveryModeMask) >> kDeliveryModeShift);
  m.logical_destination = (low & kLogicalDestination) != 0;
  m.level_triggered = (low & kLevelTriggered) != 0;
  m.destination = destination;
  return m;
}

}  // namespace

InterruptMessage decode_icr(uint32_t low, uint32_t high, uint32_t source_apic_id) {
  InterruptMessage m = decode_common(low, high >> kXapicDestinationShift);
  m.assert_level = (low & kLevelAssert) != 0;
  m.shorthand = static_cast<Shorthand>((low >> kShorthandShift) & 3);
  m.source_apic_id = source_apic_id;
  return m;
}

std::pair<uint32_t, uint32_t> encode_icr(const InterruptMessage& m) {
  uint32_t low = m.vector | (static_cast<uint32_t>(m.mode) << kDeliveryModeShift) |
                 (static_cast<uint32_t>(m.shorthand) << kShorthandShift);
  if (m.logical_destination) low |= kLogicalDestination;
  if (m.assert_level) low |= kLevelAssert;
  if (m.level_triggered) low |= kLevelTriggered;
  return {low, (m.destination & 0xFF) << kXapicDestinationShift};
}

InterruptMessage decode_redirection(uint64_t entry) {
  return decode_common(static_cast<uint32_t>(entry),
                       static_cast<uint32_t>(entry >> (32 + kXapicDestinationShift)));
}

}  // namespace amalgam::irq
