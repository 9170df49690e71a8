// litmus: x86 memory-ordering tests from ring 3, CPUs in pairs (0,1), (2,3)...
//   MP (message passing): writer data=1; flag=1 / reader: spin until flag,
//      read data. flag=1, data=0 is forbidden: any occurrence fails the run.
//   SB (store buffering): A: x=1; r1=y / B: y=1; r2=x. r1=r2=0 is allowed
//      by TSO (store buffers); counted and printed.
// Each round is synchronised with the pair's sense-reversing barrier.
// With one CPU only the sequential outcomes are checked.
#include "rt.hpp"

const char rt::guest_name[] = "litmus";

namespace {

using namespace rt;

struct alignas(64) Line {
  volatile uint64_t v;
};

struct Pair {
  Line data, flag, x, y;
  Line r2;  // B's SB result for the round, read by A
  Barrier barrier{2};
  uint64_t mp_forbidden = 0;
  uint64_t sb[4] = {};  // by r1 * 2 + r2
};

Pair g_pairs[RT_MAX_CPUS / 2];
uint64_t g_rounds;

// A few pause-free spins, varied per round and side, so that the two sides'
// accesses meet at different offsets.
inline void jitter(uint64_t round, unsigned side) {
  for (uint64_t i = (round * (side ? 7 : 13)) % 16; i; --i) asm volatile("");
}

void run_pair(Pair& p, unsigned side) {
  for (uint64_t r = 0; r < g_rounds; ++r) {
    p.barrier.wait();
    if (side == 0) {  // MP writer
      p.data.v = 1;
      p.flag.v = 1;
    } else {  // MP reader
      while (!p.flag.v) cpu_relax();
      if (!p.data.v) ++p.mp_forbidden;
    }
    p.barrier.wait();
    jitter(r, side);
    if (side == 0) {
      p.x.v = 1;
      uint64_t r1 = p.y.v;
      p.barrier.wait();
      ++p.sb[r1 * 2 + p.r2.v];
      p.data.v = 0;  // B sees the reset after the next barrier
      p.flag.v = 0;
      p.x.v = 0;
      p.y.v = 0;
    } else {
      p.y.v = 1;
      p.r2.v = p.x.v;
      p.barrier.wait();
    }
  }
}

[[noreturn]] void sequential_only() {
  Pair& p = g_pairs[0];
  p.data.v = 1;
  p.flag.v = 1;
  uint64_t flag = p.flag.v, data = p.data.v;
  p.x.v = 1;
  uint64_t r1 = p.y.v;
  p.y.v = 1;
  uint64_t r2 = p.x.v;
  printf("litmus: the concurrent tests need 2 CPUs; sequential: mp flag=%lu data=%lu, sb r1=%lu r2=%lu\n", flag,
         data, r1, r2);
  if (flag != 1 || data != 1 || r1 != 0 || r2 != 1) fail("sequential outcomes are wrong");
  pass("cpus=1 concurrent=skipped (needs 2 CPUs) sequential=ok");
}

}  // namespace

void rt::guest_main(unsigned cpu) {
  unsigned n = cpu_count();
  if (cpu == 0) {
    if (n < 2) sequential_only();
    g_rounds = param("rounds", 100000);
  }
  unsigned pairs = n / 2;
  barrier();
  uint64_t t0 = rdtsc();
  if (cpu / 2 < pairs) run_pair(g_pairs[cpu / 2], cpu % 2);
  barrier();
  if (cpu != 0) return;

  uint64_t forbidden = 0, both_zero = 0;
  for (unsigned i = 0; i < pairs; ++i) {
    const Pair& p = g_pairs[i];
    printf("litmus: cpus %u/%u: mp forbidden(flag=1,data=0)=%lu; sb r1=0,r2=0: %lu  r1=0,r2=1: %lu  "
           "r1=1,r2=0: %lu  r1=1,r2=1: %lu  (of %lu rounds)\n",
           2 * i, 2 * i + 1, p.mp_forbidden, p.sb[0], p.sb[1], p.sb[2], p.sb[3], g_rounds);
    forbidden += p.mp_forbidden;
    both_zero += p.sb[0];
  }
  uint64_t ms = ticks_to_ns(rdtsc() - t0) / 1000000;
  if (forbidden) fail("message passing: flag=1,data=0 seen %lu times", forbidden);
  pass("cpus=%u pairs=%u rounds=%lu mp_forbidden=0 sb_r1_r2_zero=%lu ms=%lu", n, pairs, g_rounds, both_zero, ms);
}
