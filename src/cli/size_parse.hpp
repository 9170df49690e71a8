#pragma once

#include <cstdint>
#include <string>

namespace amalgam::cli {

// "256M", "4G", "4GiB", "1T", "65536": binary units (K, M, G, T, with an
// optional "iB" or "B"). Throws UsageError naming flag and value otherwise.
uint64_t parse_size(const std::string& text, const std::string& flag);

}  // namespace amalgam::cli
