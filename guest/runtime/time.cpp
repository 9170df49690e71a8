// TSC and LAPIC timer frequencies (SDM vol. 3 18.7.3 and 10.5.4).
//
// Order: the hypervisor timing leaf 0x40000010 (EAX = TSC kHz, EBX = LAPIC
// timer kHz); else CPUID 0x15 (TSC/crystal ratio) or 0x16 (base MHz) for the
// TSC, with the LAPIC timer calibrated against it; else the LAPIC timer is
// taken to run at 1 GHz (KVM's) and the TSC is calibrated against it.
#include "internal.hpp"

namespace rt {
namespace {

uint64_t g_tsc_khz;
uint64_t g_apic_khz;
const char* g_source = "";

constexpr uint32_t kHypervisorLeaf = 0x40000000;
constexpr uint32_t kTimingLeaf = 0x40000010;
constexpr uint64_t kAssumedApicKhz = 1000000;

bool hypervisor_timing_leaf() {
  if (!(cpuid(1).ecx & (1u << 31))) return false;  // no hypervisor
  if (cpuid(kHypervisorLeaf).eax < kTimingLeaf) return false;
  Cpuid t = cpuid(kTimingLeaf);
  if (!t.eax) return false;
  g_tsc_khz = t.eax;
  g_apic_khz = t.ebx;
  return true;
}

uint64_t tsc_from_cpuid() {
  uint32_t max = cpuid(0).eax;
  if (max >= 0x15) {
    Cpuid c = cpuid(0x15);  // TSC = crystal * EBX / EAX
    if (c.eax && c.ebx && c.ecx) return muldiv(c.ecx, c.ebx, c.eax) / 1000;
  }
  if (max >= 0x16) {
    uint32_t mhz = cpuid(0x16).eax & 0xFFFF;
    if (mhz) return uint64_t(mhz) * 1000;
  }
  return 0;
}

// Runs the LAPIC timer (masked, one-shot, divide by 1) from its maximum count
// while `spin` waits; returns {LAPIC ticks, TSC ticks} elapsed.
template <class Spin>
void measure_timer(Spin spin, uint64_t& apic_ticks, uint64_t& tsc_ticks) {
  using namespace lapic;
  write(kLvtTimer, kMasked);
  write(kTimerDivide, kDivideBy1);
  write(kTimerInitial, 0xFFFFFFFF);
  uint64_t t0 = rdtsc();
  uint32_t c0 = read(kTimerCurrent);
  spin(t0, c0);
  uint32_t c1 = read(kTimerCurrent);
  uint64_t t1 = rdtsc();
  write(kTimerInitial, 0);
  apic_ticks = c0 - c1;
  tsc_ticks = t1 - t0;
}

}  // namespace

uint64_t tsc_khz() { return g_tsc_khz; }
uint64_t lapic_timer_khz() { return g_apic_khz; }

uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c) { return (a / c) * b + (a % c) * b / c; }
uint64_t ticks_to_ns(uint64_t ticks) { return muldiv(ticks, 1000000, g_tsc_khz); }
uint64_t us_to_ticks(uint64_t us) { return muldiv(us, g_tsc_khz, 1000); }

uint64_t limit_us(uint64_t us) {
  uint64_t scale = param("time_scale", 1);
  if (scale == 0 || scale > 1000) fail("time_scale=%lu: need 1..1000", scale);
  return us * scale;
}

void delay_us(uint64_t us) {
  uint64_t end = rdtsc() + us_to_ticks(us);
  while (rdtsc() < end) cpu_relax();
}

namespace internal {

const char* time_source() { return g_source; }

void init_time() {
  uint64_t apic_ticks, tsc_ticks;
  if (hypervisor_timing_leaf()) {
    g_source = "cpuid 0x40000010";
    if (g_apic_khz) return;
  } else if ((g_tsc_khz = tsc_from_cpuid())) {
    g_source = "cpuid 0x15/0x16, lapic timer calibrated";
  } else {
    // 10 ms by the LAPIC timer at its assumed rate.
    g_source = "lapic timer assumed 1 GHz, tsc calibrated";
    g_apic_khz = kAssumedApicKhz;
    measure_timer([](uint64_t, uint32_t c0) {
      while (c0 - lapic::read(lapic::kTimerCurrent) < kAssumedApicKhz * 10) cpu_relax();
    }, apic_ticks, tsc_ticks);
    g_tsc_khz = muldiv(tsc_ticks, kAssumedApicKhz, apic_ticks);
    return;
  }
  // 10 ms by the TSC.
  measure_timer([](uint64_t t0, uint32_t) {
    while (rdtsc() - t0 < g_tsc_khz * 10) cpu_relax();
  }, apic_ticks, tsc_ticks);
  g_apic_khz = muldiv(apic_ticks, g_tsc_khz, tsc_ticks);
}

}  // namespace internal
}  // namespace rt
