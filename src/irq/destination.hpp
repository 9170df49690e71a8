// Which LAPICs an interrupt message goes to (SDM 11.6.2).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "irq/lapic.hpp"

namespace amalgam::irq {

// Resolves m's destination among lapics (physical, logical flat and
// cluster, broadcast 0xFF, shorthands) and returns the indices it goes to,
// in increasing order. LAPICs that are globally disabled are never chosen.
// source_index is the sender's index for Self/AllExcludingSelf (none from
// the IOAPIC: Self then goes nowhere).
//
// Lowest priority (SDM 11.6.2.4) goes to one LAPIC: a matching focus
// processor (the vector already pending or in service there) if any,
// otherwise one of the software-enabled matching LAPICs with the lowest TPR
// class; ties are broken by the vector (vector % ties, as KVM's vector
// hashing does), so the choice is pure and different vectors spread out.
std::vector<size_t> resolve_destinations(const InterruptMessage& m, std::span<const Lapic* const> lapics,
                                         std::optional<size_t> source_index);

}  // namespace amalgam::irq
