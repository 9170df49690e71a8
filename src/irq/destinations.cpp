#include "irq/destinations.hpp"

namespace amalgam::irq {

std::vector<size_t> resolve_destinations(const InterruptMessage& m, std::span<const Lapic* const> lapics,
                                         std::optional<size_t> source_index) {
  std::vector<size_t> out;
  for (size_t i = 0; i < lapics.size(); ++i) {
    const Lapic& l = *lapics[i];
    if (!l.hardware_enabled()) continue;
    bool is_source = source_index && *source_index == i;
    bool hit = false;
    switch (m.shorthand) {
      case Shorthand::Self: hit = is_source; break;
      case Shorthand::AllIncludingSelf: hit = true; break;
      case Shorthand::AllExcludingSelf: hit = !is_source; break;
      case Shorthand::None:
        hit = m.logical_destination ? l.matches_logical(static_cast<uint8_t>(m.destination))
                                    : l.matches_physical(m.destination);
        break;
    }
    if (hit) out.push_back(i);
  }
  if (m.mode == DeliveryMode::LowestPriority && out.size() > 1) {
    size_t best = out.front();
    for (size_t i : out)
      if (lapics[i]->tpr() < lapics[best]->tpr()) best = i;
    out = {best};
  }
  return out;
}

}  // namespace amalgam::irq
