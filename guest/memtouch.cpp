// memtouch: `mib=` MiB (default 64) of RAM above the image, from the
// start-info memory map (after skipping `skip_mib=` MiB of it, default 0: a
// way to reach RAM above 4 GiB), split over the CPUs: one 8-byte write per 4 KiB
// page, then each CPU reads back the pages the next CPU wrote and checks
// them. Prints MB/s (10^6 bytes per second of TSC time) for both passes.
#include "rt.hpp"

const char rt::guest_name[] = "memtouch";

namespace {

using namespace rt;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMagic = 0x5A17'0000'0000'0000;

uint64_t g_pages;
uint64_t g_skip;  // pages
uint64_t g_bad[RT_MAX_CPUS];
uint64_t g_sum[RT_MAX_CPUS];

inline uint64_t pattern(uint64_t addr) { return addr ^ kMagic; }

// Calls fn(address) for pages [first, first + count) of the free RAM, in
// address order.
template <class Fn>
void for_each_page(uint64_t first, uint64_t count, Fn fn) {
  const RamRange* ranges;
  unsigned n = free_ram(&ranges);
  first += g_skip;
  for (unsigned i = 0; i < n && count; ++i) {
    uint64_t pages = ranges[i].size / kPage;
    if (first >= pages) {
      first -= pages;
      continue;
    }
    for (uint64_t p = first; p < pages && count; ++p, --count) fn(ranges[i].base + p * kPage);
    first = 0;
  }
}

// This CPU's share of the pages, by CPU index.
void share(unsigned cpu, uint64_t& first, uint64_t& count) {
  unsigned n = cpu_count();
  first = g_pages * cpu / n;
  count = g_pages * (cpu + 1) / n - first;
}

uint64_t mb_per_s(uint64_t bytes, uint64_t ticks) {
  uint64_t us = ticks_to_ns(ticks) / 1000;
  return bytes / (us ? us : 1);
}

}  // namespace

void rt::guest_main(unsigned cpu) {
  unsigned n = cpu_count();
  if (cpu == 0) {
    uint64_t mib = param("mib", 64), available = 0;
    const RamRange* ranges;
    unsigned nr = free_ram(&ranges);
    for (unsigned i = 0; i < nr; ++i) available += ranges[i].size / kPage;
    g_pages = mib * (1 << 20) / kPage;
    g_skip = param("skip_mib", 0) * (1 << 20) / kPage;
    if (g_pages == 0 || g_skip + g_pages > available)
      fail("mib=%lu skip_mib=%lu: %lu MiB of RAM above the image (%#lx)", mib, g_skip * kPage >> 20,
           available * kPage >> 20, image_end());
    uint64_t lo = 0, hi = 0;
    for_each_page(0, g_pages, [&](uint64_t a) {
      lo = lo ? lo : a;
      hi = a + kPage;
    });
    printf("memtouch: %lu MiB in [%#lx, %#lx) over %u cpus (%u free RAM ranges)\n", mib, lo, hi, n, nr);
  }
  barrier();
  uint64_t first, count;
  share(cpu, first, count);
  uint64_t t0 = rdtsc();
  for_each_page(first, count, [](uint64_t a) { *reinterpret_cast<volatile uint64_t*>(a) = pattern(a); });
  barrier();
  uint64_t t1 = rdtsc();
  share((cpu + 1) % n, first, count);  // the pages the next CPU wrote
  uint64_t sum = 0, bad = 0;
  for_each_page(first, count, [&](uint64_t a) {
    uint64_t v = *reinterpret_cast<volatile uint64_t*>(a);
    sum += v;
    if (v != pattern(a)) {
      if (!bad) printf("memtouch: cpu %u: page %#lx reads %#lx, expected %#lx\n", cpu, a, v, pattern(a));
      ++bad;
    }
  });
  g_sum[cpu] = sum;
  g_bad[cpu] = bad;
  barrier();
  if (cpu != 0) return;
  uint64_t t2 = rdtsc();

  uint64_t bytes = g_pages * kPage, checksum = 0, expected = 0, wrong = 0;
  for (unsigned i = 0; i < n; ++i) {
    checksum += g_sum[i];
    wrong += g_bad[i];
  }
  for_each_page(0, g_pages, [&](uint64_t a) { expected += pattern(a); });
  uint64_t write_mbs = mb_per_s(bytes, t1 - t0), read_mbs = mb_per_s(bytes, t2 - t1);
  printf("memtouch: %lu pages: write pass %lu us (%lu MB/s), read-back pass %lu us (%lu MB/s), checksum %#lx "
         "expected %#lx\n",
         g_pages, ticks_to_ns(t1 - t0) / 1000, write_mbs, ticks_to_ns(t2 - t1) / 1000, read_mbs, checksum, expected);
  if (wrong || checksum != expected) fail("%lu pages read back wrong, checksum %#lx expected %#lx", wrong, checksum, expected);
  pass("cpus=%u mib=%lu pages=%lu write_mb_s=%lu read_mb_s=%lu checksum=%#lx", n, bytes >> 20, g_pages, write_mbs,
       read_mbs, checksum);
}
