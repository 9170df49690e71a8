// The node every fuzzed frame is taken to come from. Not 0, so that a frame
// claiming node 0 (the default of every field) is a mismatch the decoder
// must catch; the corpus is written as this node would send.
#pragma once

#include "net/frame.hpp"

namespace amalgam::fuzz {
inline constexpr net::NodeId kSender = 2;
}
