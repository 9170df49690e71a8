// ipi: fixed-vector IPI ping-pong between CPU 0 and each other CPU in turn
// (`rounds=`), sent from ring 3 by writing the ICR; the ring-0 handler only
// counts and EOIs. Prints the median round trip. With one CPU, self-IPIs
// (shorthand self). Then one broadcast (all excluding self) and one
// logical-destination (flat model) IPI, checked to arrive exactly where
// they should.
#include "rt.hpp"

const char rt::guest_name[] = "ipi";

namespace {

using namespace rt;

const uint8_t kPing = counted_vector(0);
const uint8_t kBroadcast = counted_vector(1);
const uint8_t kLogical = counted_vector(2);
constexpr unsigned kMaxRounds = 65536;
constexpr unsigned kFlatCpus = 8;  // flat logical mode: one bit per CPU

uint64_t g_rounds, g_timeout_ticks;
uint64_t g_rtt[kMaxRounds];

void wait_count(unsigned cpu, uint8_t vector, uint64_t target, const char* what) {
  uint64_t t0 = rdtsc();
  while (irq_count(cpu, vector) < target) {
    if (rdtsc() - t0 > g_timeout_ticks)
      fail("%s: cpu %u saw %lu of %lu interrupts on vector %#x", what, cpu, irq_count(cpu, vector), target, vector);
    cpu_relax();
  }
}

void sort(uint64_t* v, size_t n) {  // heap sort
  auto sift = [v](size_t root, size_t end) {
    for (size_t child; (child = 2 * root + 1) < end; root = child) {
      if (child + 1 < end && v[child] < v[child + 1]) ++child;
      if (v[root] >= v[child]) return;
      uint64_t t = v[root];
      v[root] = v[child];
      v[child] = t;
    }
  };
  for (size_t i = n / 2; i-- > 0;) sift(i, n);
  for (size_t end = n; end-- > 1;) {
    uint64_t t = v[0];
    v[0] = v[end];
    v[end] = t;
    sift(0, end);
  }
}

// CPU 0 pings `peer` (itself: self-IPI) and waits for the pong, g_rounds
// times; returns the median round trip in ns. `base` is the caller's ping
// count from before the pair started.
uint64_t ping_pong(unsigned cpu, unsigned peer, uint64_t base) {
  if (cpu == 0) {
    for (uint64_t r = 0; r < g_rounds; ++r) {
      uint64_t t0 = rdtsc();
      if (peer == 0) lapic::send_ipi(0, lapic::kShorthandSelf | lapic::kLevelAssert | kPing);
      else lapic::send_ipi(apic_id(peer), lapic::kLevelAssert | kPing);
      wait_count(0, kPing, base + r + 1, "pong");
      g_rtt[r] = rdtsc() - t0;
    }
    sort(g_rtt, g_rounds);
    printf("ipi: cpu 0 <-> cpu %u: rtt median %lu ns, min %lu ns, max %lu ns over %lu rounds\n", peer,
           ticks_to_ns(g_rtt[g_rounds / 2]), ticks_to_ns(g_rtt[0]), ticks_to_ns(g_rtt[g_rounds - 1]), g_rounds);
    return ticks_to_ns(g_rtt[g_rounds / 2]);
  }
  for (uint64_t r = 0; r < g_rounds; ++r) {
    wait_count(cpu, kPing, base + r + 1, "ping");
    lapic::send_ipi(apic_id(0), lapic::kLevelAssert | kPing);
  }
  return 0;
}

// CPU 0 sends one IPI (ICR low `low`, destination `dest`) and checks that
// exactly the CPUs in `targets` (bit per CPU index) get it, once each.
void deliver_once(const char* what, uint8_t vector, uint32_t dest, uint32_t low, uint64_t targets) {
  unsigned n = cpu_count();
  uint64_t base[RT_MAX_CPUS];
  for (unsigned i = 0; i < n; ++i) base[i] = irq_count(i, vector);
  lapic::send_ipi(dest, low | lapic::kLevelAssert | vector);
  for (unsigned i = 0; i < n; ++i)
    if (targets >> i & 1) wait_count(i, vector, base[i] + 1, what);
  delay_us(20000);  // room for a stray or duplicate delivery to show
  for (unsigned i = 0; i < n; ++i) {
    uint64_t got = irq_count(i, vector) - base[i], want = targets >> i & 1;
    if (got != want) fail("%s IPI: cpu %u got %lu, expected %lu", what, i, got, want);
  }
  printf("ipi: %s IPI reached cpus mask %#lx only\n", what, targets);
}

}  // namespace

void rt::guest_main(unsigned cpu) {
  unsigned n = cpu_count();
  // Flat logical destinations: CPU i (< 8) is bit i.
  lapic::write(lapic::kDfr, 0xFFFFFFFF);
  lapic::write(lapic::kLdr, cpu < kFlatCpus ? (1u << cpu) << 24 : 0);
  if (cpu == 0) {
    g_rounds = param("rounds", 1000);
    g_timeout_ticks = us_to_ticks(limit_us(param("timeout_ms", 2000) * 1000));
    if (g_rounds == 0 || g_rounds > kMaxRounds) fail("rounds=%lu: need 1..%u", g_rounds, kMaxRounds);
  }

  uint64_t best = ~uint64_t(0), worst = 0;
  for (unsigned peer = n == 1 ? 0 : 1; peer < n || peer == 0; ++peer) {
    uint64_t base = irq_count(cpu, kPing);  // before CPU 0 can ping this pair
    barrier();
    if (cpu == 0 || cpu == peer) {
      uint64_t median = ping_pong(cpu, peer, base);
      best = median < best ? median : best;
      worst = median > worst ? median : worst;
    }
    if (peer == 0) break;
  }
  barrier();

  if (cpu == 0) {
    uint64_t all = (n == 64 ? ~uint64_t(0) : (uint64_t(1) << n) - 1);
    deliver_once("broadcast", kBroadcast, 0, lapic::kShorthandAllButSelf, all & ~uint64_t(1));
    uint64_t odd = 0;
    for (unsigned i = 1; i < n && i < kFlatCpus; i += 2) odd |= uint64_t(1) << i;
    uint64_t targets = n == 1 ? 1 : odd;
    deliver_once("logical", kLogical, uint32_t(targets), lapic::kDestLogical, targets);
  }
  barrier();
  if (cpu != 0) return;
  pass("cpus=%u rounds=%lu median_rtt_ns=%lu..%lu (%s)", n, g_rounds, best, worst,
       n == 1 ? "self-IPI" : "cpu 0 <-> each cpu");
}
