#include "machine/interrupt_router.hpp"

#include <mutex>

namespace amalgam::machine {

void InterruptRouter::route(const irq::InterruptMessage& message, std::optional<size_t> source_vcpu) {
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

}  // namespace amalgam::machine
