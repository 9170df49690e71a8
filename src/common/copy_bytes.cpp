#include "common/copy_bytes.hpp"

#include <emmintrin.h>

#include <cstdint>
#include <cstring>

namespace amalgam {

namespace {

// GCC would otherwise recognise the loops as a copy and call memcpy for them.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void copy_with_sse2(unsigned char* d,
                                                                                   const unsigned char* s, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 32));
    __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i + 16), b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i + 32), c);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i + 48), e);
  }
  for (; i + 16 <= n; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
  }
  if (i < n) std::memcpy(d + i, s + i, n - i);  // under 16 bytes: never REP MOVSB
}

}  // namespace

void copy_bytes(void* dst, const void* src, size_t n) {
  // Below 2 KiB no glibc memcpy uses REP MOVSB (x86_rep_movsb_threshold is
  // 2048 bytes times the vector size over 16).
  uintptr_t gap = (reinterpret_cast<uintptr_t>(dst) - reinterpret_cast<uintptr_t>(src)) % 4096;
  if (n >= 2048 && gap != 0 && gap < 32) {
    copy_with_sse2(static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), n);
  } else if (n > 0) {
    std::memcpy(dst, src, n);
  }
}

}  // namespace amalgam
