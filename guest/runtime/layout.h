/* Fixed numbers shared by the assembly (boot.S, ring0.S) and the C++ runtime.
 * Plain #defines only: this header is included from both. */
#ifndef AMALGAM_GUEST_LAYOUT_H
#define AMALGAM_GUEST_LAYOUT_H

#define RT_MAX_CPUS 64

/* GDT selectors. */
#define SEL_KCODE64 0x08
#define SEL_KDATA 0x10
#define SEL_KCODE32 0x18
#define SEL_UDATA 0x23 /* GDT entry 0x20, RPL 3 */
#define SEL_UCODE64 0x2B /* GDT entry 0x28, RPL 3 */
#define SEL_TSS0 0x30 /* then one 16-byte TSS descriptor per CPU */
#define GDT_BYTES (SEL_TSS0 + 16 * RT_MAX_CPUS)

/* Per-CPU stacks. Each is aligned to its size so that code on it finds its
 * per-CPU block at the bottom with rsp & ~(size - 1). */
#define KSTACK_SIZE 8192 /* ring 0: interrupt counters at the bottom */
#define USTACK_SIZE 16384 /* ring 3: struct CpuLocal at the bottom */
#define TSS_STRIDE 128 /* a 64-bit TSS is 104 bytes */

/* Vectors. */
#define VEC_COUNTED_BASE 0x40 /* 0x40..0x4F: ring-0 stub counts and EOIs */
#define VEC_COUNTED_N 16
#define VEC_WAKE (VEC_COUNTED_BASE + VEC_COUNTED_N - 1) /* runtime: wake from SYS_WAIT */
#define VEC_SYSCALL 0x80 /* DPL 3 gate, the ring-3 -> ring-0 call */
#define VEC_SPURIOUS 0xFF

/* Calls through VEC_SYSCALL: number in rax, arguments in rdi, rsi. */
#define SYS_WRITE 0 /* rdi = bytes, rsi = length: to COM1 */
#define SYS_EXIT 1 /* rdi = status: 32-bit out to port 0xF4, then halt */
#define SYS_HALT 2 /* park this CPU for good */
#define SYS_RDMSR 3 /* rdi = MSR; returns the value */
#define SYS_WRMSR 4 /* rdi = MSR, rsi = value */
#define SYS_FLUSH_TLB 5 /* reload CR3 */
#define SYS_WAIT 6 /* rdi = u32 address, rsi = value: if equal, sti; hlt */
#define SYS_CPUID 7 /* rdi = leaf | subleaf << 32, rsi = 16-byte buffer: eax, ebx, ecx, edx */
#define SYS_COUNT 8

/* Low memory used by the image at run time. */
#define TRAMPOLINE_PADDR 0x8000 /* AP real-mode entry: SIPI vector 0x08 */

/* Devices. */
#define LAPIC_BASE 0xFEE00000
#define COM1_PORT 0x3F8
#define EXIT_PORT 0xF4

#endif
