// Delivers interrupt messages (IPIs, IOAPIC interrupts) to the vCPUs whose
// LAPICs they address. On one node every LAPIC is local.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "irq/lapic.hpp"
#include "irq/destination.hpp"
#include "vcpu/vcpu_runner.hpp"

namespace amalgam::machine {

class InterruptRouter {
 public:
  explicit InterruptRouter(const std::vector<std::unique_ptr<vcpu::VcpuRunner>>& vcpus) : vcpus_(vcpus) {}
  void route(const irq::InterruptMessage& message, std::optional<size_t> source_vcpu);

 private:
  const std::vector<std::unique_ptr<vcpu::VcpuRunner>>& vcpus_;
};

}  // namespace amalgam::machine
