#include "machine/interrupt_router.hpp"

#include <mutex>
#include <set>

namespace amalgam::machine {

void InterruptRouter::deliver_local(const irq::InterruptMessage& message, std::optional<size_t> source_vcpu) {
  std::vector<size_t> targets;
  {
    // Destination matching reads every LAPIC's ID, LDR and DFR: hold all
    // their locks, always taken in index order (nothing else holds two).
    std::vector<std::unique_lock<std::mutex>> locks;
    std::vector<const irq::Lapic*> lapics;
    locks.reserve(vcpus_.size());
    for (const auto& v : vcpus_) {
      locks.push_back(v->lock());
      lapics.push_back(&v->lapic_unlocked());
    }
    targets = irq::resolve_destinations(message, lapics, source_vcpu);
  }
  for (size_t t : targets) vcpus_[t]->deliver(message);
}

void InterruptRouter::route(const irq::InterruptMessage& message, std::optional<size_t> source_vcpu) {
  using irq::Shorthand;
  std::set<uint32_t> remote_nodes;
  bool local = true;
  switch (message.shorthand) {
    case Shorthand::Self:
      break;
    case Shorthand::AllIncludingSelf:
    case Shorthand::AllExcludingSelf:
      for (uint32_t n : node_of_apic_)
        if (n != self_ && n != kNoNode) remote_nodes.insert(n);
      break;
    case Shorthand::None:
      if (!message.logical_destination && message.destination != irq::kBroadcastDestination) {
        uint32_t node = message.destination < node_of_apic_.size() ? node_of_apic_[message.destination] : self_;
        local = node == self_ || node == kNoNode;  // no such LAPIC: matched locally, delivered nowhere
        if (!local) remote_nodes.insert(node);
      } else {
        for (uint32_t n : node_of_apic_)
          if (n != self_ && n != kNoNode) remote_nodes.insert(n);
      }
      break;
  }
  if (local) deliver_local(message, source_vcpu);
  if (remote_nodes.empty() || !remote_) return;
  // The sender is not there: "all excluding self" means all of theirs.
  irq::InterruptMessage out = message;
  if (out.shorthand == Shorthand::AllExcludingSelf) out.shorthand = Shorthand::AllIncludingSelf;
  for (uint32_t n : remote_nodes) remote_(n, out);
}

void InterruptRouter::route_from_remote(const irq::InterruptMessage& message) {
  if (message.shorthand == irq::Shorthand::Self) return;  // never crosses nodes
  deliver_local(message, std::nullopt);
}

}  // namespace amalgam::machine
