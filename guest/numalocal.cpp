// numalocal: a NUMA-local parallel workload. Every CPU finds its proximity
// domain in the ACPI SRAT (one domain for all when there is no SRAT) and
// works, in ring 3, on `kib=` KiB (default 1024) of RAM of that domain only
// (CPUs of one domain take consecutive slices of its first free RAM range,
// the first one starting on a 2 MiB boundary, as a huge-page-aware allocator
// would place it: no slice shares a 2 MiB extent with the guest's code and
// data): it zeroes its slice (the first touch), then makes `passes=` passes
// (default 20) of a read-modify-write over every 8-byte word, then checks a
// sample of words against the expected values. On a machine spread over
// nodes with one NUMA node each, no CPU touches a page homed on another node,
// so every node should run as fast as it would alone. Prints each CPU's time
// and MB/s and the total (bytes of all CPUs over the slowest CPU's time;
// 10^6 bytes per second of TSC time), all from the first touch on, and the
// slowest CPU's first touch alone (first_touch_us).
#include "rt.hpp"

const char rt::guest_name[] = "numalocal";

namespace {

using namespace rt;

constexpr unsigned kMaxDomains = 64;
constexpr uint64_t kSampleStride = 509;  // words between two checked words
constexpr uint64_t kSliceAlign = 2 << 20;

uint64_t g_bytes, g_passes;
uint64_t g_base[RT_MAX_CPUS];
uint32_t g_domain[RT_MAX_CPUS];
uint64_t g_ticks[RT_MAX_CPUS];
uint64_t g_first_touch[RT_MAX_CPUS];
uint64_t g_bad[RT_MAX_CPUS];
unsigned g_domains;

uint32_t get32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

// SRAT (ACPI 5.2.16): Processor Local APIC affinity (type 0), Memory affinity
// (type 1), x2APIC affinity (type 2). Fills g_domain of every CPU and, per
// domain, the first free RAM range inside its memory; returns the number of
// domains (1 without an SRAT).
unsigned read_srat(RamRange* domain_ram) {
  const RamRange* free;
  unsigned nfree = free_ram(&free);
  auto* srat = static_cast<const uint8_t*>(acpi_table("SRAT"));
  if (!srat) {
    for (unsigned c = 0; c < cpu_count(); ++c) g_domain[c] = 0;
    domain_ram[0] = nfree ? free[0] : RamRange{0, 0};
    return 1;
  }
  unsigned domains = 0;
  const uint8_t* end = srat + get32(srat + 4);
  for (const uint8_t* p = srat + 48; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
    uint32_t domain = ~0u, apic = ~0u;
    bool enabled = false;
    if (p[0] == 0 && p[1] >= 16) {
      domain = p[2] | uint32_t(p[9]) << 8 | uint32_t(p[10]) << 16 | uint32_t(p[11]) << 24;
      apic = p[3];
      enabled = get32(p + 4) & 1;
    } else if (p[0] == 2 && p[1] >= 24) {
      domain = get32(p + 4);
      apic = get32(p + 8);
      enabled = get32(p + 12) & 1;
    } else if (p[0] == 1 && p[1] >= 40 && (get32(p + 28) & 1)) {
      domain = get32(p + 2);
      uint64_t base = get64(p + 8), limit = base + get64(p + 16);
      if (domain >= kMaxDomains) fail("SRAT: proximity domain %u", domain);
      for (unsigned i = 0; i < nfree && domain_ram[domain].size == 0; ++i) {
        uint64_t lo = free[i].base > base ? free[i].base : base;
        uint64_t hi = free[i].base + free[i].size < limit ? free[i].base + free[i].size : limit;
        if (lo < hi) domain_ram[domain] = {lo, hi - lo};
      }
      domains = domain + 1 > domains ? domain + 1 : domains;
      continue;
    } else {
      continue;
    }
    if (!enabled) continue;
    if (domain >= kMaxDomains) fail("SRAT: proximity domain %u", domain);
    for (unsigned c = 0; c < cpu_count(); ++c)
      if (apic_id(c) == apic) g_domain[c] = domain;
    domains = domain + 1 > domains ? domain + 1 : domains;
  }
  return domains;
}

// The value word j holds after `passes` passes.
uint64_t expected(uint64_t j, uint64_t passes) {
  uint64_t v = 0;
  for (uint64_t p = 0; p < passes; ++p) v = v * 3 + (j ^ p);
  return v;
}

}  // namespace

void rt::guest_main(unsigned cpu) {
  unsigned n = cpu_count();
  if (cpu == 0) {
    g_bytes = param("kib", 1024) * 1024;
    g_passes = param("passes", 20);
    if (g_bytes == 0 || g_passes == 0) fail("kib and passes must be above 0");
    RamRange ram[kMaxDomains] = {};
    g_domains = read_srat(ram);
    for (unsigned c = 0; c < n; ++c) {
      unsigned rank = 0;
      for (unsigned d = 0; d < c; ++d) rank += g_domain[d] == g_domain[c];
      const RamRange& r = ram[g_domain[c]];
      uint64_t base = (r.base + kSliceAlign - 1) & ~(kSliceAlign - 1);
      uint64_t size = base - r.base < r.size ? r.size - (base - r.base) : 0;
      if ((rank + 1) * g_bytes > size)
        fail("cpu %u: domain %u has %lu KiB of free RAM from %#lx, not %lu", c, g_domain[c], size >> 10, base,
             (rank + 1) * g_bytes >> 10);
      g_base[c] = base + rank * g_bytes;
    }
  }
  barrier();
  auto* words = reinterpret_cast<volatile uint64_t*>(g_base[cpu]);
  uint64_t count = g_bytes / 8;
  uint64_t t0 = rdtsc();
  for (uint64_t j = 0; j < count; ++j) words[j] = 0;
  g_first_touch[cpu] = rdtsc() - t0;
  for (uint64_t p = 0; p < g_passes; ++p)
    for (uint64_t j = 0; j < count; ++j) words[j] = words[j] * 3 + (j ^ p);
  g_ticks[cpu] = rdtsc() - t0;
  uint64_t bad = 0;
  for (uint64_t j = 0; j < count; j += kSampleStride) bad += words[j] != expected(j, g_passes);
  g_bad[cpu] = bad;
  barrier();
  if (cpu != 0) return;

  uint64_t slowest = 0, slowest_first_touch = 0, wrong = 0, per_cpu = g_bytes * g_passes;
  for (unsigned c = 0; c < n; ++c) {
    uint64_t us = ticks_to_ns(g_ticks[c]) / 1000;
    printf("numalocal: cpu %u domain %u [%#lx, %#lx): %lu us (first touch %lu us), %lu MB/s\n", c, g_domain[c],
           g_base[c], g_base[c] + g_bytes, us, ticks_to_ns(g_first_touch[c]) / 1000, per_cpu / (us ? us : 1));
    slowest = g_ticks[c] > slowest ? g_ticks[c] : slowest;
    slowest_first_touch = g_first_touch[c] > slowest_first_touch ? g_first_touch[c] : slowest_first_touch;
    wrong += g_bad[c];
  }
  if (wrong) fail("%lu sampled words wrong", wrong);
  uint64_t us = ticks_to_ns(slowest) / 1000;
  uint64_t mbs = per_cpu * n / (us ? us : 1);
  pass("cpus=%u domains=%u kib=%lu passes=%lu us=%lu mb_s=%lu first_touch_us=%lu", n, g_domains, g_bytes >> 10,
       g_passes, us, mbs, ticks_to_ns(slowest_first_touch) / 1000);
}
