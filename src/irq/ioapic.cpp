#include "irq/ioapic.hpp"

namespace amalgam::irq {

namespace {

// Writable bits of a redirection entry: vector, delivery mode, destination
// mode, polarity, trigger mode, mask (bits 16:0 less 12 and 14) and the
// destination field (bits 63:56).
constexpr uint64_t kWritable = 0xFF00'0000'0001'AFFFull;

}  // namespace

Ioapic::Ioapic(uint8_t id) : id_(id & 0xF) { entries_.fill(kMasked); }

uint32_t Ioapic::read(uint32_t offset) {
  switch (offset) {
    case kRegSel: return regsel_;
    case kWindow: return read_register(regsel_);
    default: return 0;
  }
}

std::vector<InterruptMessage> Ioapic::write(uint32_t offset, uint32_t value) {
  switch (offset) {
    case kRegSel: regsel_ = value & 0xFF; return {};
    case kWindow: return write_register(regsel_, value);
    case kEoi: return eoi(static_cast<uint8_t>(value));
    default: return {};
  }
}

uint64_t Ioapic::redirection(unsigned pin) const {
  uint64_t e = entries_[pin];
  if (remote_irr_[pin]) e |= kLevelAssert;  // bit 14: Remote IRR
  bool level = (e & kLevelTriggered) != 0;
  if (level && asserted_[pin] && ((e & kMasked) || remote_irr_[pin])) e |= kDeliveryStatus;
  return e;
}

uint32_t Ioapic::read_register(uint32_t index) const {
  switch (index) {
    case kIdReg:
    case kArbitrationReg:  // the arbitration ID follows the ID
      return static_cast<uint32_t>(id_) << 24;
    case kVersionReg: return kVersionValue;
    default: break;
  }
  if (index < kRedirectionBase || index >= kRedirectionBase + 2 * kPins) return 0;
  uint64_t e = redirection((index - kRedirectionBase) / 2);
  return static_cast<uint32_t>(index % 2 ? e >> 32 : e);
}

std::vector<InterruptMessage> Ioapic::write_register(uint32_t index, uint32_t value) {
  if (index == kIdReg) id_ = (value >> 24) & 0xF;
  if (index < kRedirectionBase || index >= kRedirectionBase + 2 * kPins) return {};
  unsigned pin = (index - kRedirectionBase) / 2;
  unsigned shift = index % 2 ? 32 : 0;
  uint64_t half = (kWritable >> shift) & 0xFFFF'FFFF;
  uint64_t& e = entries_[pin];
  e = (e & ~(half << shift)) | ((value & half) << shift);
  if (!uses_remote_irr(pin)) remote_irr_[pin] = false;
  // Unmasking a level pin that is still asserted sends it now.
  std::vector<InterruptMessage> out;
  if (uses_remote_irr(pin)) service(pin, out);
  return out;
}

bool Ioapic::uses_remote_irr(unsigned pin) const {
  uint64_t e = entries_[pin];
  auto mode = static_cast<DeliveryMode>((e & kDeliveryModeMask) >> kDeliveryModeShift);
  return (e & kLevelTriggered) != 0 && (mode == DeliveryMode::Fixed || mode == DeliveryMode::LowestPriority);
}

void Ioapic::service(unsigned pin, std::vector<InterruptMessage>& out) {
  uint64_t e = entries_[pin];
  if (!asserted_[pin] || (e & kMasked) || remote_irr_[pin]) return;
  uint32_t mode = static_cast<uint32_t>((e & kDeliveryModeMask) >> kDeliveryModeShift);
  if (!is_valid_delivery_mode(mode) || mode == static_cast<uint32_t>(DeliveryMode::StartUp)) return;
  InterruptMessage m = decode_redirection(e);
  m.level_triggered = uses_remote_irr(pin);
  remote_irr_[pin] = m.level_triggered;
  out.push_back(m);
}

std::vector<InterruptMessage> Ioapic::set_irq(uint32_t pin, bool level) {
  std::vector<InterruptMessage> out;
  if (pin >= kPins) return out;
  bool rising = level && !asserted_[pin];
  asserted_[pin] = level;
  // Edge: on assertion only; level: whenever asserted and Remote IRR is clear.
  if (rising || uses_remote_irr(pin)) service(pin, out);
  return out;
}

std::vector<InterruptMessage> Ioapic::eoi(uint8_t vector) {
  std::vector<InterruptMessage> out;
  for (unsigned pin = 0; pin < kPins; ++pin) {
    if (remote_irr_[pin] && (entries_[pin] & kVectorMask) == vector) {
      remote_irr_[pin] = false;
      service(pin, out);  // re-sends if the line is still asserted
    }
  }
  return out;
}

}  // namespace amalgam::irq
