#include "common/copy_bytes.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

namespace amalgam {
namespace {

// Lengths up to a page and a bit, the source at several misalignments, the
// destination a multiple of 4 KiB plus `gap` past it, with gaps that take
// either way (copy_bytes.hpp): the copy writes exactly [dst, dst + n).
TEST(CopyBytes, CopiesExactlyTheRangeAtAnyLengthAndPlacement) {
  constexpr size_t kMax = 4096 + 80;
  constexpr size_t kArea = 4 * 4096;
  std::unique_ptr<uint8_t, decltype(&std::free)> area(static_cast<uint8_t*>(std::aligned_alloc(4096, kArea)),
                                                      &std::free);
  uint8_t* base = area.get();
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{63}, size_t{64}, size_t{65},
                   size_t{2047}, size_t{2048}, size_t{4095}, size_t{4096}, size_t{4097}, kMax}) {
    for (size_t source_offset : {0, 5, 16, 61}) {
      for (size_t gap : {0, 1, 8, 29, 31, 32, 48, 63, 100, 2048}) {
        for (size_t i = 0; i < kArea; ++i) base[i] = static_cast<uint8_t>(i * 7 + 1);
        const uint8_t* src = base + source_offset;
        uint8_t* dst = base + source_offset + 2 * 4096 + gap;  // past the longest source
        std::vector<uint8_t> want(base, base + kArea);
        for (size_t i = 0; i < n; ++i) want[dst - base + i] = src[i];
        copy_bytes(dst, src, n);
        for (size_t i = 0; i < kArea; ++i) {
          ASSERT_EQ(base[i], want[i]) << "n=" << n << " source+" << source_offset << " gap " << gap << " byte " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace amalgam
