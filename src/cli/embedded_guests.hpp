// The project's test guests, built from guest/ and linked into the amalgam
// binary so that `amalgam run --guest NAME` needs no files beside it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace amalgam::cli {

struct EmbeddedGuest {
  std::string_view name;
  std::span<const uint8_t> image;
};

std::span<const EmbeddedGuest> embedded_guests();
inline constexpr std::string_view kDemoGuest = "counter";

}  // namespace amalgam::cli
