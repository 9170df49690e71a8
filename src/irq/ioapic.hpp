// An I/O APIC (Intel 82093AA datasheet; version 0x20 adds the EOI register
// at offset 0x40 that Linux uses for level-triggered pins). 24 pins; each
// redirection entry turns a pin's level into an interrupt message.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "irq/interrupt_message.hpp"

namespace amalgam::irq {

class Ioapic {
 public:
  static constexpr uint32_t kPins = 24;
  static constexpr uint32_t kRegSelect = 0x00, kWindow = 0x10, kEoi = 0x40;

  explicit Ioapic(uint8_t id) : id_(id) { reset(); }

  uint32_t read(uint32_t offset);
  std::vector<InterruptMessage> write(uint32_t offset, uint32_t value);
  // A device's line: level is "asserted" (polarity is the guest's business
  // through the MADT overrides; devices report assertion).
  std::vector<InterruptMessage> set_irq(uint32_t pin, bool level);
  std::vector<InterruptMessage> eoi(uint8_t vector);

  uint64_t redirection(uint32_t pin) const { return redirection_[pin]; }
  void reset();

 private:
  uint32_t read_register(uint32_t index) const;
  void write_register(uint32_t index, uint32_t value, std::vector<InterruptMessage>& out);
  // Sends pin's interrupt if its entry allows it now.
  void service(uint32_t pin, std::vector<InterruptMessage>& out);
  InterruptMessage message(uint32_t pin) const;

  uint8_t id_;
  uint32_t select_ = 0;
  std::array<uint64_t, kPins> redirection_{};
  std::array<bool, kPins> level_{};
};

}  // namespace amalgam::irq
