// What a vCPU's run loop needs from the machine around it. The loop itself
// handles only what belongs to one CPU (its LAPIC, MSRs, halt, start-up); port
// and MMIO accesses, interrupts for other CPUs and machine-wide stops go
// through this interface, so that the machine may serve them locally or
// forward them to another node.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "irq/lapic.hpp"

namespace amalgam::vcpu {

class VcpuHost {
 public:
  virtual ~VcpuHost() = default;
  virtual void port_read(uint16_t port, std::span<uint8_t> data) = 0;
  virtual void port_write(uint16_t port, std::span<const uint8_t> data) = 0;
  virtual void mmio_read(uint64_t gpa, std::span<uint8_t> data) = 0;
  virtual void mmio_write(uint64_t gpa, std::span<const uint8_t> data) = 0;
  // An interrupt message a LAPIC sent (an IPI).
  virtual void send_interrupt(const irq::InterruptMessage& message, uint32_t source_vcpu) = 0;
  // EOI of a level-triggered vector, for the IOAPIC.
  virtual void level_eoi(uint8_t vector) = 0;
  virtual bool stopping() const = 0;
  // Ends the machine with a failure: reason is one line naming vCPU and RIP.
  virtual void fail(const std::string& reason) = 0;
};

}  // namespace amalgam::vcpu
