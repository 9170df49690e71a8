#include "net/transport.hpp"

#include <fmt/format.h>

namespace amalgam::net {

Transport::~Transport() = default;

bool Transport::spin(std::chrono::microseconds budget, const FrameHandler& on_frame,
                     const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + budget;
  while (!done()) {
    if (!poll(std::chrono::milliseconds(0), on_frame)) return false;
    if (std::chrono::steady_clock::now() >= until) break;
    __builtin_ia32_pause();  // a spin-wait loop's hint (Intel SDM vol. 2, PAUSE): leaves a hyperthread sibling its share
  }
  return true;
}

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
