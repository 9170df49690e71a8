// Which LAPICs an interrupt message reaches (Intel SDM vol. 3 11.6.2).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "irq/interrupt_message.hpp"
#include "irq/lapic.hpp"

namespace amalgam::irq {

// Indices into lapics. Shorthands use source_index (the sender). Lowest
// priority goes to one CPU: among the matches, the one with the lowest TPR,
// the first such on ties (SDM 11.6.2.4 leaves the choice to the chipset).
// A LAPIC disabled in IA32_APIC_BASE accepts nothing.
std::vector<size_t> resolve_destinations(const InterruptMessage& m, std::span<const Lapic* const> lapics,
                                         std::optional<size_t> source_index);

}  // namespace amalgam::irq
