// smp: every CPU listed in the MADT comes online and checks in.
#include "rt.hpp"

const char rt::guest_name[] = "smp";

namespace {
uint32_t g_checked_in;
}

void rt::guest_main(unsigned cpu) {
  printf("cpu %u apic %u online\n", cpu, apic_id(cpu));
  __atomic_add_fetch(&g_checked_in, 1, __ATOMIC_ACQ_REL);
  barrier();
  if (cpu != 0) return;
  unsigned n = __atomic_load_n(&g_checked_in, __ATOMIC_ACQUIRE);
  if (n != cpu_count()) fail("%u of %u cpus checked in", n, cpu_count());
  pass("cpus=%u", n);
}
