// Delivers interrupt messages (IPIs, IOAPIC interrupts) to the vCPUs whose
// LAPICs they address: to this node's own vCPUs directly, and to other
// nodes as messages when the destination may be there (the APIC ID of vCPU
// i is i, so a physical destination names its node; logical destinations
// and broadcasts go to every node, each matching its own LAPICs).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "irq/destination.hpp"
#include "irq/lapic.hpp"
#include "vcpu/vcpu_runner.hpp"

namespace amalgam::machine {

class InterruptRouter {
 public:
  using RemoteSend = std::function<void(uint32_t node, const irq::InterruptMessage&)>;
  static constexpr uint32_t kNoNode = UINT32_MAX;  // an APIC ID no vCPU has
  // vcpus: this node's runners; node_of_apic: the node of each APIC ID
  // (kNoNode for IDs between the ones in use).
  InterruptRouter(const std::vector<std::unique_ptr<vcpu::VcpuRunner>>& vcpus, uint32_t self,
                  std::vector<uint32_t> node_of_apic, RemoteSend remote)
      : vcpus_(vcpus), self_(self), node_of_apic_(std::move(node_of_apic)), remote_(std::move(remote)) {}

  // source_vcpu: the local runner index of the sender, for shorthands.
  void route(const irq::InterruptMessage& message, std::optional<size_t> source_vcpu);
  // A message another node sent here: match among local LAPICs only.
  void route_from_remote(const irq::InterruptMessage& message);

 private:
  void deliver_local(const irq::InterruptMessage& message, std::optional<size_t> source_vcpu);

  const std::vector<std::unique_ptr<vcpu::VcpuRunner>>& vcpus_;
  uint32_t self_;
  std::vector<uint32_t> node_of_apic_;
  RemoteSend remote_;
};

}  // namespace amalgam::machine
