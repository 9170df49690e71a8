/* Interrupt and exception entry, ring 0. Kept to a handful of plain
 * instructions per event: counted vectors bump a per-CPU counter and EOI,
 * the system-call gate does port I/O and MSR access for ring-3 code. Ring-3
 * code builds the IDT from the tables exported at the end. */
#include "layout.h"

#define LAPIC_EOI 0xB0

        .section .note.GNU-stack, "", @progbits
        .text
        .code64

/* Exceptions: push a zero error code where the CPU pushes none, then the
 * vector, and hand the frame to rt_exception (C++, does not return). */
.macro EXCEPTION vec, has_error
exc_\vec:
        .if \has_error == 0
        pushq $0
        .endif
        pushq $\vec
        jmp exception_common
.endm

        EXCEPTION 0, 0
        EXCEPTION 1, 0
        EXCEPTION 2, 0
        EXCEPTION 3, 0
        EXCEPTION 4, 0
        EXCEPTION 5, 0
/* #UD: on KVM without hardware virtualization, INT n in ring 3 is handed
 * to KVM's instruction emulator, which has no protected-mode INT and raises
 * #UD at the INT instead. An "int $VEC_SYSCALL" that comes back as #UD from
 * ring 3 is therefore run as the system call it is, past the INT. */
exc_6:
        testb $3, 8(%rsp) /* CS of the interrupted code */
        jz 1f
        pushq %rax
        movq 8(%rsp), %rax /* RIP */
        cmpw $(0xCD | (VEC_SYSCALL << 8)), (%rax)
        popq %rax
        jne 1f
        addq $2, (%rsp)
        jmp syscall_entry
1:      pushq $0
        pushq $6
        jmp exception_common
        EXCEPTION 7, 0
        EXCEPTION 8, 1
        EXCEPTION 9, 0
        EXCEPTION 10, 1
        EXCEPTION 11, 1
        EXCEPTION 12, 1
        EXCEPTION 13, 1
        EXCEPTION 14, 1
        EXCEPTION 15, 0
        EXCEPTION 16, 0
        EXCEPTION 17, 1
        EXCEPTION 18, 0
        EXCEPTION 19, 0
        EXCEPTION 20, 0
        EXCEPTION 21, 1
        EXCEPTION 22, 0
        EXCEPTION 23, 0
        EXCEPTION 24, 0
        EXCEPTION 25, 0
        EXCEPTION 26, 0
        EXCEPTION 27, 0
        EXCEPTION 28, 0
        EXCEPTION 29, 1
        EXCEPTION 30, 1
        EXCEPTION 31, 0

exception_common:
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, %rdi
        call rt_exception
1:      cli
        hlt
        jmp 1b

/* Counted vectors: ++counter[n] at the bottom of this CPU's ring-0 stack,
 * EOI, return. */
.macro COUNTED n
counted_\n:
        pushq %rax
        movq %rsp, %rax
        andq $-KSTACK_SIZE, %rax
        incq (\n * 8)(%rax)
        xorl %eax, %eax
        movabsl %eax, LAPIC_BASE + LAPIC_EOI
        popq %rax
        iretq
.endm

        .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        COUNTED \n
        .endr

/* Spurious vector: no EOI (SDM vol. 3 10.9). */
spurious:
        iretq

/* System calls from ring 3: RAX = number, RDI/RSI = arguments, result in
 * RAX. Clobbers RCX, RDX, RSI as well. */
syscall_entry:
        cmpq $SYS_COUNT, %rax
        jae 1f
        jmp *syscall_table(, %rax, 8)
1:      movq $-1, %rax
        iretq

sys_write:
        movq %rsi, %rcx
        movq %rdi, %rsi
        movl $COM1_PORT, %edx
        testq %rcx, %rcx
        jz 2f
1:      movb (%rsi), %al
        outb %al, %dx
        incq %rsi
        decq %rcx
        jnz 1b
2:      iretq

sys_exit:
        movl %edi, %eax
        movl $EXIT_PORT, %edx
        outl %eax, %dx
sys_halt:
1:      cli
        hlt
        jmp 1b

sys_rdmsr:
        movl %edi, %ecx
        rdmsr
        shlq $32, %rdx
        orq %rdx, %rax
        iretq

sys_wrmsr:
        movl %edi, %ecx
        movl %esi, %eax
        movq %rsi, %rdx
        shrq $32, %rdx
        wrmsr
        iretq

/* Sleeps until the next interrupt unless *(u32 *)rdi != esi. IF is clear
 * here (interrupt gate) and STI holds interrupts off for one more
 * instruction, so a wake-up IPI sent after the check is taken after HLT. */
sys_wait:
        cmpl %esi, (%rdi)
        jne 1f
        sti
        hlt
        cli
1:      iretq

/* CPUID must run in ring 0: where ring 3 runs natively (docs/platform.md), a
 * ring-3 CPUID is not intercepted and reports the host's CPU, not the
 * vCPU the VMM describes. */
sys_cpuid:
        pushq %rbx
        movl %edi, %eax
        movq %rdi, %rcx
        shrq $32, %rcx
        cpuid
        movl %eax, 0(%rsi)
        movl %ebx, 4(%rsi)
        movl %ecx, 8(%rsi)
        movl %edx, 12(%rsi)
        popq %rbx
        xorl %eax, %eax
        iretq

sys_flush_tlb:
        movq %cr3, %rax
        movq %rax, %cr3
        iretq

        .section .rodata
        .p2align 3
syscall_table:
        .quad sys_write, sys_exit, sys_halt, sys_rdmsr, sys_wrmsr, sys_flush_tlb, sys_wait, sys_cpuid

/* For the IDT, built by ring-3 code (runtime/start.cpp). */
        .globl rt_exception_stubs, rt_counted_stubs, rt_syscall_stub
        .globl rt_spurious_stub
rt_exception_stubs:
        .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        .quad exc_\n
        .endr
rt_counted_stubs:
        .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        .quad counted_\n
        .endr
rt_syscall_stub:
        .quad syscall_entry
rt_spurious_stub:
        .quad spurious
