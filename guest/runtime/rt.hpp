// The guest runtime: what every test guest links against.
//
// Model: the runtime boots the BSP, brings every CPU listed in the ACPI MADT
// online, and then calls guest_main(cpu) on every CPU in ring 3. Ring-3 code
// can touch all memory, the LAPIC page included (uncached); it reaches ring 0
// only through the small system calls below (printing, exit, MSRs), and
// interrupts on the counted vectors only bump a per-CPU counter.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#include "layout.h"

namespace rt {

// ---- Provided by each guest ------------------------------------------------
extern const char guest_name[];
// Runs on every CPU (cpu = 0 is the BSP) once all of them are online. The
// guest ends the run with pass() or fail(); returning from it on the BSP is a
// failure, returning on an AP parks that CPU.
void guest_main(unsigned cpu);

// ---- CPUs --------------------------------------------------------------------
unsigned cpu_count();
unsigned cpu_index();  // of the calling CPU
uint32_t apic_id(unsigned cpu);

// ---- Output and verdict ------------------------------------------------------
int vformat(char* buf, size_t size, const char* fmt, va_list ap);
void printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// "PASS <guest> <text>" and exit status 0.
[[noreturn]] void pass(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// "FAIL <guest>: <text>" and exit status 1.
[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void park();  // halt this CPU for good

// ---- Parameters from the PVH command line (key=value words) ------------------
uint64_t param(const char* key, uint64_t fallback);

// ---- Time (TSC) ----------------------------------------------------------------
inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return (uint64_t(hi) << 32) | lo;
}
uint64_t tsc_khz();
uint64_t lapic_timer_khz();
uint64_t ticks_to_ns(uint64_t ticks);
uint64_t us_to_ticks(uint64_t us);
void delay_us(uint64_t us);
// How long to wait for what the host does for the guest (an interrupt,
// another CPU) before calling it lost: `us`, as on a native host, times the
// `time_scale=` parameter (default 1), which the test harness raises on a
// slow host (the lab, docs/lab.md) so that slowness is not read as a loss.
uint64_t limit_us(uint64_t us);
// a * b / c without overflow for b, c < 2^32.
uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c);

// ---- Synchronisation ----------------------------------------------------------
inline void cpu_relax() { asm volatile("pause" ::: "memory"); }

class SpinLock {
 public:
  void lock() {
    while (__atomic_exchange_n(&held_, 1u, __ATOMIC_ACQUIRE))
      while (__atomic_load_n(&held_, __ATOMIC_RELAXED)) cpu_relax();
  }
  void unlock() { __atomic_store_n(&held_, 0u, __ATOMIC_RELEASE); }

 private:
  uint32_t held_ = 0;
};

// Sense-reversing barrier for `parties` CPUs (any subset; each CPU keeps its
// own sense by CPU index). A CPU that waits longer than a short spin sleeps
// (HLT) until the last one to arrive wakes it with an IPI on VEC_WAKE, so
// that waiting vCPUs leave the host CPUs to those still working.
class Barrier {
 public:
  explicit constexpr Barrier(unsigned parties = 0) : parties_(parties) {}
  void set_parties(unsigned parties) { parties_ = parties; }
  void wait();

 private:
  alignas(64) uint32_t arrived_ = 0;
  uint32_t sense_ = 0;
  uint64_t sleepers_ = 0;  // bit per CPU index
  unsigned parties_;
  uint8_t local_sense_[RT_MAX_CPUS] = {};
};
// All CPUs.
void barrier();

// ---- Privileged operations (system calls into ring 0) ---------------------------
uint64_t rdmsr(uint32_t msr);
void wrmsr(uint32_t msr, uint64_t value);

// ---- Interrupts ------------------------------------------------------------------
// Vectors VEC_COUNTED_BASE + n (n < VEC_COUNTED_N) are counted per CPU;
// VEC_WAKE is the runtime's own.
inline uint8_t counted_vector(unsigned n) { return uint8_t(VEC_COUNTED_BASE + n); }
uint64_t irq_count(unsigned cpu, uint8_t vector);

// ---- CPUID -------------------------------------------------------------------------
struct Cpuid {
  uint32_t eax, ebx, ecx, edx;
};
// From ring 3 this goes through SYS_CPUID: a ring-3 CPUID may run natively
// and report the host's CPU instead of the vCPU (docs/platform.md).
inline Cpuid cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  Cpuid r;
  uint16_t cs;
  asm volatile("mov %%cs, %0" : "=r"(cs));
  if ((cs & 3) == 0) {
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
  }
  uint64_t nr = SYS_CPUID, buffer = reinterpret_cast<uint64_t>(&r);
  asm volatile("int %[vec]"
               : "+a"(nr), "+S"(buffer)
               : "D"(uint64_t{leaf} | uint64_t{subleaf} << 32), [vec] "i"(VEC_SYSCALL)
               : "rcx", "rdx", "memory");
  return r;
}

// ---- Local APIC (xAPIC, MMIO at LAPIC_BASE) ------------------------------------------
namespace lapic {
enum Reg : uint32_t {
  kId = 0x20,
  kVersion = 0x30,
  kTpr = 0x80,
  kEoi = 0xB0,
  kLdr = 0xD0,
  kDfr = 0xE0,
  kSvr = 0xF0,
  kEsr = 0x280,
  kIcrLow = 0x300,
  kIcrHigh = 0x310,
  kLvtTimer = 0x320,
  kLvtThermal = 0x330,
  kLvtPerf = 0x340,
  kLvtLint0 = 0x350,
  kLvtLint1 = 0x360,
  kLvtError = 0x370,
  kTimerInitial = 0x380,
  kTimerCurrent = 0x390,
  kTimerDivide = 0x3E0,
};
constexpr uint32_t kMasked = 1u << 16;
constexpr uint32_t kTimerPeriodic = 1u << 17;
constexpr uint32_t kTimerTscDeadline = 2u << 17;
constexpr uint32_t kDivideBy1 = 0xB;
constexpr uint32_t kDivideBy16 = 0x3;

inline uint32_t read(Reg reg) { return *reinterpret_cast<volatile uint32_t*>(uintptr_t(LAPIC_BASE) + reg); }
inline void write(Reg reg, uint32_t value) {
  *reinterpret_cast<volatile uint32_t*>(uintptr_t(LAPIC_BASE) + reg) = value;
}
inline uint32_t id() { return read(kId) >> 24; }

// ICR fields (SDM vol. 3 10.6.1).
constexpr uint32_t kDeliveryFixed = 0u << 8;
constexpr uint32_t kDeliveryInit = 5u << 8;
constexpr uint32_t kDeliveryStartup = 6u << 8;
constexpr uint32_t kDestLogical = 1u << 11;
constexpr uint32_t kLevelAssert = 1u << 14;
constexpr uint32_t kShorthandSelf = 1u << 18;
constexpr uint32_t kShorthandAllButSelf = 3u << 18;
constexpr uint32_t kDeliveryPending = 1u << 12;

// Waits for the previous IPI to leave this LAPIC, then sends one: `low` is
// ICR[31:0] (vector, delivery mode, shorthand...), `dest` the APIC ID (or the
// logical destination in logical mode).
void send_ipi(uint32_t dest, uint32_t low);
// Software-enables this CPU's LAPIC with all LVT entries masked.
void init_local();
}  // namespace lapic

// ---- Memory ---------------------------------------------------------------------------
struct RamRange {
  uint64_t base;
  uint64_t size;
};
// RAM from the start-info memory map (E820 type 1), sorted, clipped to what
// the runtime maps (below 64 GiB) and to addresses above the image.
unsigned free_ram(const RamRange** ranges);
uintptr_t image_end();

// ---- ACPI -----------------------------------------------------------------------------
// The first ACPI table with this 4-character signature ("SRAT"), checksum
// verified, or nullptr. After start-up (the runtime found the RSDP then).
const void* acpi_table(const char* signature);

}  // namespace rt

extern "C" {
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
}
