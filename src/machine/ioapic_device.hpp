// The IOAPIC on the MMIO bus: serialises access to irq::Ioapic and routes the
// interrupt messages it emits.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "devices/device.hpp"
#include "irq/ioapic.hpp"

namespace amalgam::machine {

class IoapicDevice : public devices::Device {
 public:
  using RouteFn = std::function<void(const irq::InterruptMessage&)>;
  IoapicDevice(uint8_t id, RouteFn route) : ioapic_(id), route_(std::move(route)) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  void set_irq(uint32_t pin, bool level);
  void eoi(uint8_t vector);

 private:
  void send(const std::vector<irq::InterruptMessage>& messages);
  std::mutex mu_;
  irq::Ioapic ioapic_;
  RouteFn route_;
};

}  // namespace amalgam::machine
