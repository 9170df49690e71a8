// Faults per guest page, counted when asked (`--stats`): the pages nodes
// fight over, which explain where a slow multi-node run spends its time
// (docs/design.md, The DSM: progress). Counting is one relaxed atomic
// increment per fault; reading may race with it and sees a count a few
// faults old.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "dsm/protocol.hpp"

namespace amalgam::dsm {

class PageHeat {
 public:
  explicit PageHeat(PageNumber pages) : size_(pages), counts_(new std::atomic<uint32_t>[pages]()) {}

  void count(PageNumber page) {
    if (page < size_) counts_[page].fetch_add(1, std::memory_order_relaxed);
  }
  // The n pages with most faults, most first; pages with none are left out.
  std::vector<std::pair<PageNumber, uint32_t>> hottest(size_t n) const;

 private:
  PageNumber size_;
  std::unique_ptr<std::atomic<uint32_t>[]> counts_;
};

}  // namespace amalgam::dsm
