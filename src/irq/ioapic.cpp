#include "irq/ioapic.hpp"

namespace amalgam::irq {

namespace {
// Redirection entry bits (82093AA 3.2.4).
constexpr uint64_t kMasked = 1ull << 16, kLevelTrigger = 1ull << 15, kRemoteIrr = 1ull << 14,
                   kDeliveryStatus = 1ull << 12, kLogical = 1ull << 11;
constexpr uint64_t kReadOnlyBits = kRemoteIrr | kDeliveryStatus;
constexpr uint32_t kVersion = 0x0017'0020;  // max redirection entry 0x17, version 0x20
}  // namespace

void Ioapic::reset() {
  select_ = 0;
  redirection_.fill(kMasked);
  level_.fill(false);
}

uint32_t Ioapic::read(uint32_t offset) {
  if (offset == kRegSelect) return select_;
  if (offset == kWindow) return read_register(select_);
  return 0;
}

std::vector<InterruptMessage> Ioapic::write(uint32_t offset, uint32_t value) {
  std::vector<InterruptMessage> out;
  if (offset == kRegSelect) {
    select_ = value & 0xFF;
  } else if (offset == kWindow) {
    write_register(select_, value, out);
  } else if (offset == kEoi) {
    return eoi(static_cast<uint8_t>(value));
  }
  return out;
}

uint32_t Ioapic::read_register(uint32_t index) const {
  switch (index) {
    case 0x00: return uint32_t{id_} << 24;
    case 0x01: return kVersion;
    case 0x02: return uint32_t{id_} << 24;  // arbitration ID
    default: break;
  }
  if (index >= 0x10 && index < 0x10 + 2 * kPins) {
    uint64_t entry = redirection_[(index - 0x10) / 2];
    return index % 2 ? static_cast<uint32_t>(entry >> 32) : static_cast<uint32_t>(entry);
  }
  return 0xFFFF'FFFF;
}

void Ioapic::write_register(uint32_t index, uint32_t value, std::vector<InterruptMessage>& out) {
  if (index == 0x00) {
    id_ = static_cast<uint8_t>((value >> 24) & 0xF);
    return;
  }
  if (index < 0x10 || index >= 0x10 + 2 * kPins) return;
  uint32_t pin = (index - 0x10) / 2;
  uint64_t& entry = redirection_[pin];
  if (index % 2) {
    entry = (entry & 0xFFFF'FFFFull) | (uint64_t{value & 0xFF00'0000} << 32);
  } else {
    entry = (entry & ~0xFFFF'FFFFull) | (entry & kReadOnlyBits) | (value & ~kReadOnlyBits & 0x1FFFF);
    if (!(entry & kLevelTrigger)) entry &= ~kRemoteIrr;
  }
  // Unmasking a level pin that is still asserted delivers it now.
  if (entry & kLevelTrigger) service(pin, out);
}

InterruptMessage Ioapic::message(uint32_t pin) const {
  uint64_t e = redirection_[pin];
  InterruptMessage m;
  m.vector = static_cast<uint8_t>(e & 0xFF);
  m.mode = static_cast<DeliveryMode>((e >> 8) & 7);
  m.logical_destination = e & kLogical;
  m.destination = static_cast<uint32_t>(e >> 56);
  m.level_triggered = e & kLevelTrigger;
  m.assert_level = true;
  return m;
}

void Ioapic::service(uint32_t pin, std::vector<InterruptMessage>& out) {
  uint64_t& e = redirection_[pin];
  if ((e & kMasked) || !level_[pin]) return;
  if (e & kLevelTrigger) {
    if (e & kRemoteIrr) return;  // the last one is not EOIed yet
    e |= kRemoteIrr;
  }
  out.push_back(message(pin));
}

std::vector<InterruptMessage> Ioapic::set_irq(uint32_t pin, bool level) {
  std::vector<InterruptMessage> out;
  if (pin >= kPins) return out;
  bool rising = level && !level_[pin];
  level_[pin] = level;
  if (redirection_[pin] & kLevelTrigger) {
    service(pin, out);
  } else if (rising) {
    service(pin, out);
  }
  return out;
}

std::vector<InterruptMessage> Ioapic::eoi(uint8_t vector) {
  std::vector<InterruptMessage> out;
  for (uint32_t pin = 0; pin < kPins; ++pin) {
    uint64_t& e = redirection_[pin];
    if ((e & kLevelTrigger) && (e & kRemoteIrr) && (e & 0xFF) == vector) {
      e &= ~kRemoteIrr;
      service(pin, out);  // still asserted: again
    }
  }
  return out;
}

}  // namespace amalgam::irq
