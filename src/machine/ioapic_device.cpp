#include "machine/ioapic_device.hpp"

namespace amalgam::machine {

void IoapicDevice::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  devices::store_le(data, ioapic_.read(static_cast<uint32_t>(offset)));
}

void IoapicDevice::write(uint64_t offset, std::span<const uint8_t> data) {
  std::vector<irq::InterruptMessage> out;
  {
    std::lock_guard lock(mu_);
    out = ioapic_.write(static_cast<uint32_t>(offset), static_cast<uint32_t>(devices::load_le(data)));
  }
  send(out);
}

void IoapicDevice::set_irq(uint32_t pin, bool level) {
  std::vector<irq::InterruptMessage> out;
  {
    std::lock_guard lock(mu_);
    out = ioapic_.set_irq(pin, level);
  }
  send(out);
}

void IoapicDevice::eoi(uint8_t vector) {
  std::vector<irq::InterruptMessage> out;
  {
    std::lock_guard lock(mu_);
    out = ioapic_.eoi(vector);
  }
  send(out);
}

void IoapicDevice::send(const std::vector<irq::InterruptMessage>& messages) {
  for (const auto& m : messages) route_(m);
}

}  // namespace amalgam::machine
