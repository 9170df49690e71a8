// A 16550A UART (National Semiconductor PC16550D datasheet): what the guest
// writes to THR goes to the output sink; bytes given to receive() arrive in
// RBR. Enough of the modem-control loopback is there for Linux's 8250 probe.
#pragma once

#include <deque>
#include <functional>
#include <mutex>

#include "devices/device.hpp"

namespace amalgam::devices {

class Uart16550 : public Device {
 public:
  static constexpr uint16_t kCom1Port = 0x3F8;
  static constexpr uint32_t kCom1Irq = 4;
  static constexpr uint64_t kSize = 8;

  using OutputFn = std::function<void(uint8_t)>;
  using IrqFn = std::function<void(bool level)>;
  Uart16550(OutputFn output, IrqFn irq) : output_(std::move(output)), irq_(std::move(irq)) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  // Host side: bytes typed by the user.
  void receive(std::span<const uint8_t> bytes);

 private:
  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);
  uint8_t interrupt_identification() const;
  uint8_t modem_status() const;
  void update_irq();  // called with mu_ held; the irq callback runs after unlock

  std::mutex mu_;
  OutputFn output_;
  IrqFn irq_;
  std::deque<uint8_t> rx_;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0;
  uint8_t dll_ = 0x0C, dlm_ = 0;  // 9600 baud
  bool thr_interrupt_ = false;    // THR empty interrupt pending (cleared by IIR read / THR write)
  bool irq_level_ = false;
  bool irq_dirty_ = false;
};

}  // namespace amalgam::devices
