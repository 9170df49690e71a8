#include "dsm/page_heat.hpp"

#include <algorithm>

namespace amalgam::dsm {

std::vector<std::pair<PageNumber, uint32_t>> PageHeat::hottest(size_t n) const {
  std::vector<std::pair<PageNumber, uint32_t>> all;
  for (PageNumber p = 0; p < size_; ++p)
    if (uint32_t c = counts_[p].load(std::memory_order_relaxed)) all.emplace_back(p, c);
  auto by_count = [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; };
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), by_count);
  all.resize(n);
  return all;
}

}  // namespace amalgam::dsm
