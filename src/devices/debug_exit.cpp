#include "devices/debug_exit.hpp"

#include <algorithm>

namespace amalgam::devices {

void DebugExit::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0) return;
  on_exit_(static_cast<int>(std::min<uint64_t>(load_le(data), 255)));
}

}  // namespace amalgam::devices
