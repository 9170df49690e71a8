// bench_copy: one page copied with glibc's memcpy and with copy_bytes(), for
// a destination that lies `gap` bytes past a 4 KiB multiple of the source.
// A gap of 1 to 31 is where glibc's REP MOVSB slows down on this host, and
// where copy_bytes() copies another way (copy_bytes.hpp); 1024 is an ordinary
// placement. Hot caches: the copy alone, not what it costs on the fault path.
//   build/bench/bench_copy --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/copy_bytes.hpp"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kSourceOffset = 61;  // where a Grant's page starts in its frame

struct Buffers {
  explicit Buffers(size_t gap) : area(static_cast<uint8_t*>(std::aligned_alloc(kPage, 4 * kPage)), &std::free) {
    std::memset(area.get(), 1, 4 * kPage);
    src = area.get() + kSourceOffset;
    dst = src + kPage + gap;
  }
  std::unique_ptr<uint8_t, decltype(&std::free)> area;
  uint8_t* src;
  uint8_t* dst;
};

template <void* (*Copy)(void*, const void*, size_t)>
void BM_Copy(benchmark::State& state) {
  Buffers b(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Copy(b.dst, b.src, kPage);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPage));
}

void* glibc_memcpy(void* dst, const void* src, size_t n) { return std::memcpy(dst, src, n); }
void* amalgam_copy_bytes(void* dst, const void* src, size_t n) {
  amalgam::copy_bytes(dst, src, n);
  return dst;
}

BENCHMARK(BM_Copy<glibc_memcpy>)->Name("memcpy")->ArgName("gap")->Arg(0)->Arg(8)->Arg(29)->Arg(48)->Arg(1024);
BENCHMARK(BM_Copy<amalgam_copy_bytes>)->Name("copy_bytes")->ArgName("gap")->Arg(0)->Arg(8)->Arg(29)->Arg(48)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
