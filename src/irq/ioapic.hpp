// The I/O APIC, after the 82093AA datasheet: 24 pins, indirect register
// access through IOREGSEL (0x00) and IOWIN (0x10), and the EOI register at
// 0x40 of version 0x20 parts. Not thread-safe, no I/O of its own: it returns
// the messages to send and the caller routes them.
//
// Choices where the datasheet leaves room:
// - set_irq() takes whether the line is asserted; the polarity bit is kept
//   for the guest but not applied (the device model reports assertion).
// - NMI, SMI, INIT and ExtINT entries are edge-triggered whatever their
//   trigger bit says (datasheet 3.2.4); only fixed and lowest-priority entries
//   use Remote IRR. Reserved delivery modes (3, 6) send nothing.
// - Delivery status (bit 12) reads 1 while a level-triggered pin is asserted
//   but cannot send (masked, or waiting for an EOI), 0 otherwise: sending is
//   immediate, so nothing else is ever "send pending".
// - Unknown registers read 0 and ignore writes.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "irq/message.hpp"

namespace amalgam::irq {

class Ioapic {
 public:
  static constexpr unsigned kPins = 24;
  static constexpr uint32_t kRegSel = 0x00;
  static constexpr uint32_t kWindow = 0x10;
  static constexpr uint32_t kEoi = 0x40;
  // Indirect registers.
  static constexpr uint32_t kIdReg = 0x00;
  static constexpr uint32_t kVersionReg = 0x01;
  static constexpr uint32_t kArbitrationReg = 0x02;
  static constexpr uint32_t kRedirectionBase = 0x10;  // pin n: 0x10 + 2n (low), 0x11 + 2n (high)
  static constexpr uint32_t kVersionValue = ((kPins - 1) << 16) | 0x20;
  static constexpr uint64_t kMasked = 1u << 16;

  explicit Ioapic(uint8_t id);

  uint32_t read(uint32_t offset);
  std::vector<InterruptMessage> write(uint32_t offset, uint32_t value);
  std::vector<InterruptMessage> set_irq(uint32_t pin, bool level);
  std::vector<InterruptMessage> eoi(uint8_t vector);

  uint8_t id() const { return id_; }
  uint64_t redirection(unsigned pin) const;  // as the guest reads it

 private:
  uint32_t read_register(uint32_t index) const;
  std::vector<InterruptMessage> write_register(uint32_t index, uint32_t value);
  bool uses_remote_irr(unsigned pin) const;
  // Sends pin's interrupt if its line and entry call for it.
  void service(unsigned pin, std::vector<InterruptMessage>& out);

  uint8_t id_;
  uint32_t regsel_ = 0;
  std::array<uint64_t, kPins> entries_{};  // without delivery status / Remote IRR
  std::array<bool, kPins> asserted_{};
  std::array<bool, kPins> remote_irr_{};
};

}  // namespace amalgam::irq
