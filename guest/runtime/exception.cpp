// The one piece of C++ that runs in ring 0: the report for an unexpected
// exception. It formats one line, writes it to COM1 directly and exits with
// status 2. Slow where ring 0 is emulated, but it runs once.
#include "internal.hpp"

namespace {

struct Frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

constexpr uint32_t kExceptionStatus = 2;

void report(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = rt::vformat(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (int i = 0; i < n && i < int(sizeof buf) - 1; ++i)
    asm volatile("outb %0, %1" ::"a"(buf[i]), "Nd"(uint16_t(COM1_PORT)));
}

}  // namespace

extern "C" char rt_kstacks[];

extern "C" [[noreturn]] void rt_exception(Frame* f) {
  uint64_t cr2;
  asm volatile("mov %%cr2, %0" : "=r"(cr2));
  auto cpu = (uintptr_t(f) - uintptr_t(rt_kstacks)) / KSTACK_SIZE;
  report("\nFAIL %s: cpu %lu exception %lu error %#lx at rip %#lx (ring %lu) rsp %#lx cr2 %#lx\n", rt::guest_name, cpu,
         f->vector, f->error, f->rip, f->cs & 3, f->rsp, cr2);
  asm volatile("outl %0, %1" ::"a"(kExceptionStatus), "Nd"(uint16_t(EXIT_PORT)));
  for (;;) asm volatile("cli; hlt");
}
