// Ring-3 side of boot: every CPU arrives in rt_ring3_entry(index) from
// boot.S. The BSP builds the IDT, reads start info and ACPI, finds the clock
// rates and starts the APs (SDM vol. 3 8.4.4.1: INIT, 10 ms, STARTUP, 200 us,
// STARTUP); then all CPUs run guest_main.
#include "internal.hpp"

extern "C" {
extern uint64_t rt_idt[512];
extern const uint64_t rt_exception_stubs[32];
extern const uint64_t rt_counted_stubs[VEC_COUNTED_N];
extern const uint64_t rt_syscall_stub;
extern const uint64_t rt_spurious_stub;
extern char rt_kstacks[];
extern const uint8_t rt_trampoline_start[], rt_trampoline_index[], rt_trampoline_started[], rt_trampoline_end[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
}

namespace rt {
namespace {

// At the bottom of each CPU's ring-3 stack (USTACK_SIZE-aligned).
struct CpuLocal {
  unsigned index;
};

struct CpuSlot {
  uint32_t apic_id;
  uint32_t online;
};

CpuSlot g_cpus[RT_MAX_CPUS];
unsigned g_ncpus = 1;
uint32_t g_go;
Barrier g_all;
uint64_t g_spin_ticks;  // how long a barrier spins before it sleeps

constexpr uint8_t kGateRing0 = 0x8E;  // present, DPL 0, 64-bit interrupt gate
constexpr uint8_t kGateRing3 = 0xEE;  // present, DPL 3
constexpr uint64_t kApTimeoutMsDefault = 10000;
constexpr uint32_t kSvrEnable = 1u << 8;
constexpr uint32_t kMsrApicBase = 0x1B;
constexpr uint64_t kApicBaseEnable = 1u << 11, kApicBaseX2 = 1u << 10;

CpuLocal& local() {
  uintptr_t sp;
  asm("mov %%rsp, %0" : "=r"(sp));
  return *reinterpret_cast<CpuLocal*>(sp & ~uintptr_t(USTACK_SIZE - 1));
}

void set_gate(unsigned vector, uint64_t handler, uint8_t type) {
  rt_idt[2 * vector] = (handler & 0xFFFF) | (uint64_t(SEL_KCODE64) << 16) | (uint64_t(type) << 40) |
                       ((handler >> 16 & 0xFFFF) << 48);
  rt_idt[2 * vector + 1] = handler >> 32;
}

void build_idt() {
  for (unsigned v = 0; v < 32; ++v) set_gate(v, rt_exception_stubs[v], kGateRing0);
  for (unsigned n = 0; n < VEC_COUNTED_N; ++n) set_gate(VEC_COUNTED_BASE + n, rt_counted_stubs[n], kGateRing0);
  set_gate(VEC_SYSCALL, rt_syscall_stub, kGateRing3);
  set_gate(VEC_SPURIOUS, rt_spurious_stub, kGateRing0);
}

void check_apic_base() {
  uint64_t base = rdmsr(kMsrApicBase);
  if ((base & ~uint64_t(0xFFF)) != LAPIC_BASE || !(base & kApicBaseEnable) || (base & kApicBaseX2))
    fail("IA32_APIC_BASE is %#lx: need xAPIC mode at %#x", base, LAPIC_BASE);
}

void find_cpus(uint64_t rsdp) {
  uint32_t ids[RT_MAX_CPUS];
  unsigned n = internal::read_madt(rsdp, ids, RT_MAX_CPUS);
  uint32_t bsp = lapic::id();
  // The BSP is CPU 0; the others keep MADT order.
  g_cpus[0] = {bsp, 1};
  g_ncpus = 1;
  bool found = false;
  for (unsigned i = 0; i < n; ++i) {
    if (ids[i] == bsp) found = true;
    else if (g_ncpus < RT_MAX_CPUS) g_cpus[g_ncpus++] = {ids[i], 0};
  }
  if (!found) fail("the BSP (APIC ID %u) is not in the MADT", bsp);
}

void start_aps() {
  if (g_ncpus == 1) return;
  size_t size = size_t(rt_trampoline_end - rt_trampoline_start);
  auto* tr = reinterpret_cast<uint8_t*>(uintptr_t(TRAMPOLINE_PADDR));
  memcpy(tr, rt_trampoline_start, size);
  uint8_t* index = tr + (rt_trampoline_index - rt_trampoline_start);
  uint8_t* started = tr + (rt_trampoline_started - rt_trampoline_start);
  for (unsigned i = 1; i < g_ncpus; ++i) {
    if (g_cpus[i].apic_id > 0xFE) fail("APIC ID %u does not fit xAPIC start-up", g_cpus[i].apic_id);
    index[g_cpus[i].apic_id] = uint8_t(i);
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);

  using namespace lapic;
  uint64_t t0 = rdtsc();
  uint32_t vector = TRAMPOLINE_PADDR >> 12;
  for (unsigned i = 1; i < g_ncpus; ++i) send_ipi(g_cpus[i].apic_id, kDeliveryInit | kLevelAssert);
  delay_us(10000);
  for (unsigned i = 1; i < g_ncpus; ++i) send_ipi(g_cpus[i].apic_id, kDeliveryStartup | kLevelAssert | vector);
  delay_us(200);
  for (unsigned i = 1; i < g_ncpus; ++i)
    if (!__atomic_load_n(&started[g_cpus[i].apic_id], __ATOMIC_ACQUIRE))
      send_ipi(g_cpus[i].apic_id, kDeliveryStartup | kLevelAssert | vector);

  uint64_t timeout_ms = param("ap_timeout_ms", kApTimeoutMsDefault);
  uint64_t limit = us_to_ticks(limit_us(timeout_ms * 1000));
  for (unsigned i = 1; i < g_ncpus; ++i) {
    while (!__atomic_load_n(&g_cpus[i].online, __ATOMIC_ACQUIRE)) {
      if (rdtsc() - t0 > limit)
        fail("cpu %u (APIC ID %u) did not check in within %lu ms (trampoline %s)", i, g_cpus[i].apic_id,
             ticks_to_ns(limit) / 1000000, started[g_cpus[i].apic_id] ? "entered" : "not entered");
      cpu_relax();
    }
  }
  printf("rt: %u APs online %lu us after the first INIT\n", g_ncpus - 1, ticks_to_ns(rdtsc() - t0) / 1000);
}

[[noreturn]] void run(unsigned cpu) {
  guest_main(cpu);
  if (cpu == 0) fail("guest_main returned without a verdict");
  park();
}

void bsp_init() {
  build_idt();
  for (auto** f = __init_array_start; f != __init_array_end; ++f) (*f)();
  check_apic_base();
  lapic::init_local();
  uint64_t rsdp = internal::read_start_info();
  find_cpus(rsdp);
  g_all.set_parties(g_ncpus);
  internal::init_time();
  g_spin_ticks = us_to_ticks(param("spin_us", 50));
  printf("\nrt: %s: %u cpus (BSP APIC ID %u), tsc %lu kHz, lapic timer %lu kHz (%s), ram %lu MiB\n", guest_name,
         g_ncpus, g_cpus[0].apic_id, tsc_khz(), lapic_timer_khz(), internal::time_source(),
         internal::ram_total() >> 20);
  start_aps();
}

}  // namespace

unsigned cpu_count() { return g_ncpus; }
unsigned cpu_index() { return local().index; }
uint32_t apic_id(unsigned cpu) { return g_cpus[cpu].apic_id; }

uint64_t irq_count(unsigned cpu, uint8_t vector) {
  auto* counters = reinterpret_cast<volatile uint64_t*>(rt_kstacks + size_t(cpu) * KSTACK_SIZE);
  return counters[vector - VEC_COUNTED_BASE];
}

void Barrier::wait() {
  unsigned me = cpu_index();
  uint8_t sense = local_sense_[me] ^= 1;
  if (__atomic_add_fetch(&arrived_, 1, __ATOMIC_ACQ_REL) == parties_) {
    __atomic_store_n(&arrived_, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&sense_, sense, __ATOMIC_SEQ_CST);
    // The exchange orders the sense store before reading the sleepers.
    for (uint64_t sleepers = __atomic_exchange_n(&sleepers_, 0, __ATOMIC_SEQ_CST); sleepers; sleepers &= sleepers - 1)
      lapic::send_ipi(apic_id(unsigned(__builtin_ctzll(sleepers))), lapic::kLevelAssert | VEC_WAKE);
    return;
  }
  uint64_t t0 = rdtsc();
  while (__atomic_load_n(&sense_, __ATOMIC_ACQUIRE) != sense) {
    if (rdtsc() - t0 < g_spin_ticks) {
      cpu_relax();
      continue;
    }
    __atomic_fetch_or(&sleepers_, uint64_t(1) << me, __ATOMIC_SEQ_CST);
    internal::syscall(SYS_WAIT, uintptr_t(&sense_), sense ^ 1u);
  }
}

void barrier() { g_all.wait(); }

namespace lapic {

void send_ipi(uint32_t dest, uint32_t low) {
  for (unsigned spins = 0; read(kIcrLow) & kDeliveryPending; ++spins) {
    if (spins > 10000000) fail("LAPIC ICR stays busy (%#x)", read(kIcrLow));
    cpu_relax();
  }
  write(kIcrHigh, dest << 24);
  write(kIcrLow, low);
}

void init_local() {
  write(kTpr, 0);
  const Reg lvts[] = {kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError};
  for (Reg lvt : lvts) write(lvt, kMasked);
  write(kSvr, kSvrEnable | VEC_SPURIOUS);
  write(kEsr, 0);
}

}  // namespace lapic
}  // namespace rt

extern "C" [[noreturn]] void rt_ring3_entry(unsigned cpu) {
  using namespace rt;
  local().index = cpu;
  if (cpu == 0) {
    bsp_init();
    __atomic_store_n(&g_go, 1, __ATOMIC_RELEASE);
  } else {
    lapic::init_local();
    __atomic_store_n(&g_cpus[cpu].online, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&g_go, __ATOMIC_ACQUIRE)) cpu_relax();
  }
  run(cpu);
}
