// counter: every CPU does `iterations` lock xadd on one shared counter, then
// as many on a counter of its own (own counters on separate cache lines).
// Totals must come out exact: cpus * iterations shared, iterations each.
#include "rt.hpp"

const char rt::guest_name[] = "counter";

namespace {

struct alignas(64) Counter {
  uint64_t value;
};

Counter g_shared;
Counter g_own[RT_MAX_CPUS];
uint64_t g_iterations;
uint64_t g_shared_ticks[RT_MAX_CPUS];
uint64_t g_own_ticks[RT_MAX_CPUS];

inline void lock_xadd(uint64_t& target) {
  uint64_t one = 1;
  asm volatile("lock xaddq %0, %1" : "+r"(one), "+m"(target)::"memory");
}

// Runs `iterations` lock xadd on target between two barriers; returns TSC ticks.
uint64_t hammer(uint64_t& target) {
  rt::barrier();
  uint64_t t0 = rt::rdtsc();
  for (uint64_t i = 0; i < g_iterations; ++i) lock_xadd(target);
  return rt::rdtsc() - t0;
}

uint64_t slowest(const uint64_t* ticks) {
  uint64_t max = 0;
  for (unsigned i = 0; i < rt::cpu_count(); ++i) max = ticks[i] > max ? ticks[i] : max;
  return max;
}

}  // namespace

void rt::guest_main(unsigned cpu) {
  if (cpu == 0) g_iterations = param("iterations", 1000000);
  g_shared_ticks[cpu] = hammer(g_shared.value);
  g_own_ticks[cpu] = hammer(g_own[cpu].value);
  barrier();
  if (cpu != 0) return;

  unsigned n = cpu_count();
  uint64_t k = g_iterations, shared = g_shared.value, expected = n * k;
  uint64_t own_min = ~uint64_t(0), own_max = 0;
  unsigned bad = 0;
  for (unsigned i = 0; i < n; ++i) {
    uint64_t v = g_own[i].value;
    own_min = v < own_min ? v : own_min;
    own_max = v > own_max ? v : own_max;
    if (v != k) {
      printf("counter: cpu %u own=%lu expected=%lu\n", i, v, k);
      ++bad;
    }
  }
  uint64_t shared_ns = ticks_to_ns(slowest(g_shared_ticks)), own_ns = ticks_to_ns(slowest(g_own_ticks));
  uint64_t k1 = k ? k : 1;
  printf("counter: shared=%lu expected=%lu own=%lu..%lu expected=%lu each (cpus=%u iterations=%lu)\n", shared, expected,
         own_min, own_max, k, n, k);
  printf("counter: shared %lu ns/op per cpu (%lu ms), own %lu ns/op per cpu (%lu ms)\n", shared_ns / k1,
         shared_ns / 1000000, own_ns / k1, own_ns / 1000000);
  if (shared != expected || bad) fail("shared=%lu expected=%lu, %u own counters wrong", shared, expected, bad);
  pass("cpus=%u iterations=%lu shared=%lu own=%lu shared_ns_per_op=%lu own_ns_per_op=%lu", n, k, shared, k,
       shared_ns / k1, own_ns / k1);
}
