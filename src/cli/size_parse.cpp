#include "cli/size_parse.hpp"

#include <fmt/format.h>

#include <cctype>
#include <limits>

#include "common/error.hpp"

namespace amalgam::cli {

uint64_t parse_size(const std::string& text, const std::string& flag) {
  auto bad = [&] { return UsageError(fmt::format("{} '{}': not a size (examples: 512M, 4G, 64GiB)", flag, text)); };
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) throw bad();
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) throw bad();
  std::string unit = text.substr(i);
  int shift = 0;
  if (!unit.empty()) {
    switch (std::toupper(static_cast<unsigned char>(unit[0]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      case 'B': shift = 0; break;
      default: throw bad();
    }
    std::string rest = unit.substr(1);
    for (auto& c : rest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool plain_bytes = shift == 0;
    if (plain_bytes ? !rest.empty() : !(rest.empty() || rest == "b" || rest == "ib")) throw bad();
  }
  if (shift && value > (std::numeric_limits<uint64_t>::max() >> shift)) throw bad();
  return value << shift;
}

}  // namespace amalgam::cli
