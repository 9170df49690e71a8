// timer: the LAPIC timer on CPU 0 (SDM vol. 3 10.5.4). Periodic at `hz=`
// (default 100) for `ms=` (default 500) while ring-3 code spins on the TSC:
// the tick count must be within 10% + 2 of elapsed time * hz. Then one
// one-shot and, where CPUID.1:ECX[24] says it exists, one TSC-deadline
// interrupt: each must come once, and not early.
#include "rt.hpp"

const char rt::guest_name[] = "timer";

namespace {

using namespace rt;

const uint8_t kPeriodic = counted_vector(0);
const uint8_t kOneShot = counted_vector(1);
const uint8_t kDeadline = counted_vector(2);
constexpr uint32_t kMsrTscDeadline = 0x6E0;
constexpr uint32_t kCpuidTscDeadline = 1u << 24;
constexpr uint64_t kSingleUs = 10000;  // one-shot and deadline delay

void stop_timer() {
  lapic::write(lapic::kLvtTimer, lapic::kMasked);
  lapic::write(lapic::kTimerInitial, 0);
}

// Divide configuration and initial count for `per_second` interrupts.
void program_rate(uint64_t per_second, uint32_t& divide, uint32_t& count) {
  uint64_t apic_hz = lapic_timer_khz() * 1000;
  uint64_t c = apic_hz / per_second;
  divide = lapic::kDivideBy1;
  if (c > 0xFFFFFFFF) {
    divide = lapic::kDivideBy16;
    c /= 16;
  }
  if (c == 0 || c > 0xFFFFFFFF) fail("cannot run the LAPIC timer at %lu/s from %lu kHz", per_second, apic_hz / 1000);
  count = uint32_t(c);
}

void periodic(uint64_t& expected_out, uint64_t& seen_out) {
  uint64_t hz = param("hz", 100), ms = param("ms", 500);
  if (hz == 0 || ms == 0) fail("hz and ms must be > 0");
  uint32_t divide, count;
  program_rate(hz, divide, count);
  lapic::write(lapic::kTimerDivide, divide);
  lapic::write(lapic::kLvtTimer, lapic::kTimerPeriodic | kPeriodic);
  uint64_t base = irq_count(0, kPeriodic);
  uint64_t t0 = rdtsc(), span = us_to_ticks(ms * 1000);
  lapic::write(lapic::kTimerInitial, count);
  while (rdtsc() - t0 < span) cpu_relax();
  uint64_t elapsed = rdtsc() - t0;
  stop_timer();
  uint64_t seen = irq_count(0, kPeriodic) - base;
  uint64_t expected = (muldiv(elapsed, hz, tsc_khz()) + 500) / 1000;  // elapsed s * hz
  uint64_t slack = expected / 10 + 2;
  printf("timer: periodic %lu Hz for %lu ms (divide %s, initial count %u): ticks expected %lu seen %lu\n", hz,
         ticks_to_ns(elapsed) / 1000000, divide == lapic::kDivideBy1 ? "1" : "16", count, expected, seen);
  if (seen + slack < expected || seen > expected + slack)
    fail("periodic: %lu ticks in %lu us, expected %lu +- %lu", seen, ticks_to_ns(elapsed) / 1000, expected, slack);
  expected_out = expected;
  seen_out = seen;
}

// Arms one interrupt on `vector` with `arm` (given the TSC at arming and the
// TSC value it is due at) and checks it arrives once, not before it is due.
// Returns the delay in us.
template <class Arm>
uint64_t single(const char* what, uint8_t vector, Arm arm) {
  uint64_t base = irq_count(0, vector);
  uint64_t t0 = rdtsc(), due = t0 + us_to_ticks(kSingleUs);
  arm(t0, due);
  uint64_t limit = us_to_ticks(limit_us(kSingleUs + 2000000));
  while (irq_count(0, vector) == base) {
    if (rdtsc() - t0 > limit) fail("%s: no interrupt within %lu us", what, ticks_to_ns(limit) / 1000);
    cpu_relax();
  }
  uint64_t seen = rdtsc();
  // The timer counts in its own clock: allow it 1% early against the TSC.
  if (seen < due - us_to_ticks(kSingleUs / 100))
    fail("%s: fired after %lu us, due at %lu us", what, ticks_to_ns(seen - t0) / 1000, kSingleUs);
  delay_us(3 * kSingleUs);
  uint64_t n = irq_count(0, vector) - base;
  stop_timer();
  if (n != 1) fail("%s: %lu interrupts, expected 1", what, n);
  uint64_t us = ticks_to_ns(seen - t0) / 1000;
  printf("timer: %s due after %lu us, seen after %lu us, once\n", what, kSingleUs, us);
  return us;
}

}  // namespace

void rt::guest_main(unsigned cpu) {
  if (cpu != 0) return;
  uint64_t expected, seen;
  periodic(expected, seen);

  uint64_t oneshot_us = single("one-shot", kOneShot, [](uint64_t, uint64_t) {
    uint32_t divide, count;
    program_rate(1000000 / kSingleUs, divide, count);
    lapic::write(lapic::kTimerDivide, divide);
    lapic::write(lapic::kLvtTimer, kOneShot);  // one-shot mode, unmasked
    lapic::write(lapic::kTimerInitial, count);
  });

  if (!(cpuid(1).ecx & kCpuidTscDeadline)) {
    printf("timer: no TSC-deadline mode (CPUID.1:ECX[24] clear), skipped\n");
    pass("ticks_expected=%lu ticks_seen=%lu oneshot_us=%lu deadline=unsupported", expected, seen, oneshot_us);
  }
  uint64_t deadline_us = single("tsc-deadline", kDeadline, [](uint64_t, uint64_t due) {
    lapic::write(lapic::kLvtTimer, lapic::kTimerTscDeadline | kDeadline);
    wrmsr(kMsrTscDeadline, due);  // the system call's IRET orders it after the LVT write
  });
  uint64_t left = rdmsr(kMsrTscDeadline);
  if (left != 0) fail("IA32_TSC_DEADLINE reads %#lx after it fired, expected 0", left);
  pass("ticks_expected=%lu ticks_seen=%lu oneshot_us=%lu deadline_us=%lu", expected, seen, oneshot_us, deadline_us);
}
