#include "net/transport.hpp"

#include <fmt/format.h>

namespace amalgam::net {

Transport::~Transport() = default;

void Transport::check_send(NodeId to, std::span<const uint8_t> frame) const {
  if (to >= node_count() || to == self()) {
    throw std::invalid_argument(fmt::format("node {}: cannot send to node {} of {}", self(), to, node_count()));
  }
  if (frame.size() > kMaxFrame) {
    throw std::invalid_argument(
        fmt::format("node {}: frame of {} bytes to node {} over the maximum {}", self(), frame.size(), to, kMaxFrame));
  }
}

}  // namespace amalgam::net
