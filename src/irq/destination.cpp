#include "irq/destination.hpp"

namespace amalgam::irq {

namespace {

bool matches(const InterruptMessage& m, const Lapic& lapic, size_t index, std::optional<size_t> source) {
  switch (m.shorthand) {
    case Shorthand::Self: return source == index;
    case Shorthand::AllIncludingSelf: return true;
    case Shorthand::AllExcludingSelf: return source != index;
    case Shorthand::None: break;
  }
  if (m.logical_destination) return lapic.matches_logical(static_cast<uint8_t>(m.destination));
  return lapic.matches_physical(m.destination);
}

std::vector<size_t> lowest_priority(const InterruptMessage& m, std::span<const Lapic* const> lapics,
                                    const std::vector<size_t>& matching) {
  std::vector<size_t> lowest;
  unsigned lowest_class = 16;
  for (size_t i : matching) {
    const Lapic& lapic = *lapics[i];
    if (!lapic.software_enabled()) continue;
    if (lapic.is_focus_for(m.vector)) return {i};
    unsigned cls = lapic.tpr() >> 4;
    if (cls < lowest_class) {
      lowest_class = cls;
      lowest.clear();
    }
    if (cls == lowest_class) lowest.push_back(i);
  }
  if (lowest.empty()) return {};
  return {lowest[m.vector % lowest.size()]};
}

}  // namespace

std::vector<size_t> resolve_destinations(const InterruptMessage& m, std::span<const Lapic* const> lapics,
                                         std::optional<size_t> source_index) {
  std::vector<size_t> out;
  for (size_t i = 0; i < lapics.size(); ++i) {
    const Lapic* lapic = lapics[i];
    if (lapic != nullptr && lapic->hardware_enabled() && matches(m, *lapic, i, source_index)) out.push_back(i);
  }
  if (m.mode == DeliveryMode::LowestPriority) return lowest_priority(m, lapics, out);
  return out;
}

}  // namespace amalgam::irq
