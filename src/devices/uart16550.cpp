#include "devices/uart16550.hpp"

#include <utility>

namespace amalgam::devices {

namespace {
// Register offsets and bits (PC16550D datasheet, table II).
constexpr uint64_t kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kIerRxData = 0x01, kIerThrEmpty = 0x02;
constexpr uint8_t kIirNone = 0x01, kIirThrEmpty = 0x02, kIirRxData = 0x04, kIirFifoEnabled = 0xC0;
constexpr uint8_t kLsrDataReady = 0x01, kLsrThrEmpty = 0x20, kLsrTxEmpty = 0x40;
constexpr uint8_t kMcrLoop = 0x10, kMcrOut2 = 0x08;
constexpr size_t kRxCapacity = 4096;
}  // namespace

void Uart16550::read(uint64_t offset, std::span<uint8_t> data) {
  bool level;
  bool changed;
  {
    std::lock_guard lock(mu_);
    store_le(data, read_register(offset));
    level = irq_level_;
    changed = std::exchange(irq_dirty_, false);
  }
  if (changed) irq_(level);
}

void Uart16550::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  bool level;
  bool changed;
  {
    std::lock_guard lock(mu_);
    write_register(offset, data[0]);
    level = irq_level_;
    changed = std::exchange(irq_dirty_, false);
  }
  if (changed) irq_(level);
}

void Uart16550::receive(std::span<const uint8_t> bytes) {
  bool level;
  bool changed;
  {
    std::lock_guard lock(mu_);
    for (uint8_t b : bytes)
      if (rx_.size() < kRxCapacity) rx_.push_back(b);
    update_irq();
    level = irq_level_;
    changed = std::exchange(irq_dirty_, false);
  }
  if (changed) irq_(level);
}

uint8_t Uart16550::read_register(uint64_t offset) {
  switch (offset) {
    case kRbrThr: {
      if (lcr_ & kLcrDlab) return dll_;
      if (rx_.empty()) return 0;
      uint8_t b = rx_.front();
      rx_.pop_front();
      update_irq();
      return b;
    }
    case kIer:
      return (lcr_ & kLcrDlab) ? dlm_ : ier_;
    case kIirFcr: {
      uint8_t iir = interrupt_identification();
      // Reading IIR while it reports THR empty clears that source.
      if ((iir & 0x0F) == kIirThrEmpty) {
        thr_interrupt_ = false;
        update_irq();
      }
      return iir | ((fcr_ & 1) ? kIirFifoEnabled : 0);
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr:
      return (rx_.empty() ? 0 : kLsrDataReady) | kLsrThrEmpty | kLsrTxEmpty;
    case kMsr:
      return modem_status();
    case kScr:
      return scr_;
    default:
      return 0xFF;
  }
}

void Uart16550::write_register(uint64_t offset, uint8_t value) {
  switch (offset) {
    case kRbrThr:
      if (lcr_ & kLcrDlab) {
        dll_ = value;
      } else if (mcr_ & kMcrLoop) {
        if (rx_.size() < kRxCapacity) rx_.push_back(value);  // loopback: TX feeds RX
        thr_interrupt_ = true;
      } else {
        output_(value);
        thr_interrupt_ = true;  // transmission is instant: THR is empty again
      }
      break;
    case kIer:
      if (lcr_ & kLcrDlab) {
        dlm_ = value;
      } else {
        // Enabling the THR-empty interrupt while THR is empty raises it at once.
        if ((value & kIerThrEmpty) && !(ier_ & kIerThrEmpty)) thr_interrupt_ = true;
        ier_ = value & 0x0F;
      }
      break;
    case kIirFcr:
      fcr_ = value & 0xC9;
      if (value & 0x02) rx_.clear();  // RX FIFO reset
      break;
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      mcr_ = value & 0x1F;
      break;
    case kScr:
      scr_ = value;
      break;
    default:
      break;  // LSR and MSR are read-only
  }
  update_irq();
}

uint8_t Uart16550::interrupt_identification() const {
  if ((ier_ & kIerRxData) && !rx_.empty()) return kIirRxData;
  if ((ier_ & kIerThrEmpty) && thr_interrupt_) return kIirThrEmpty;
  return kIirNone;
}

uint8_t Uart16550::modem_status() const {
  if (mcr_ & kMcrLoop) {
    // Loopback (datasheet 8.6): CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2.
    return static_cast<uint8_t>(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x04) << 4) |
                                ((mcr_ & 0x08) << 4));
  }
  return 0xB0;  // DCD, DSR, CTS asserted: a terminal is attached
}

void Uart16550::update_irq() {
  // On PCs the UART's interrupt reaches the interrupt controller only through
  // OUT2; in loopback mode it is not driven out at all.
  bool level = interrupt_identification() != kIirNone && (mcr_ & kMcrOut2) && !(mcr_ & kMcrLoop);
  if (level != irq_level_) {
    irq_level_ = level;
    irq_dirty_ = true;
  }
}

}  // namespace amalgam::devices
