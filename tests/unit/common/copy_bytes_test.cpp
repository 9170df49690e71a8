#include "common/copy_bytes.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace amalgam {
namespace {

// Lengths up to a page and a bit, the source at several misalignments, the
// destination at distances from it that take either way (copy_bytes.hpp):
// the copy writes exactly [dst, dst + n).
TEST(CopyBytes, CopiesExactlyTheRangeAtAnyLengthAndAlignment) {
  constexpr size_t kMax = 4096 + 80;
  std::vector<uint8_t> src(kMax + 32), dst(kMax + 4096 + 128);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{63}, size_t{64}, size_t{65},
                   size_t{127}, size_t{4095}, size_t{4096}, size_t{4097}, kMax}) {
    for (size_t so = 0; so < 16; so += 5) {
      for (size_t d_off : {0, 3, 8, 16, 29, 63, 64, 100, 4095, 4096, 4097, 4100}) {
        std::fill(dst.begin(), dst.end(), 0xEE);
        copy_bytes(dst.data() + 16 + d_off, src.data() + so, n);
        for (size_t i = 0; i < dst.size(); ++i) {
          bool inside = i >= 16 + d_off && i < 16 + d_off + n;
          uint8_t want = inside ? src[so + i - 16 - d_off] : 0xEE;
          ASSERT_EQ(dst[i], want) << "n=" << n << " src+" << so << " dst+" << d_off << " byte " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace amalgam
