/* Boot and CPU bring-up, ring 0.
 *
 * Ring 0 is the expensive place to be on the platforms this guest is meant
 * for (it may be emulated one instruction at a time), so everything here is
 * straight-line code that does only what ring 3 cannot: load CR3/CR4/EFER/
 * CR0, GDT, TSS and IDT registers, and drop to ring 3. The tables themselves
 * are static data (page tables for 0-4 GiB, the GDT) or filled by ring-3
 * code (the IDT, AP start-up data).
 *
 * Entry points:
 *   pvh_entry        BSP, from the VMM: 32-bit protected mode, paging off,
 *                    flat segments, EBX = struct hvm_start_info.
 *   rt_trampoline_*  AP, after STARTUP IPI: a copy of this blob runs in real
 *                    mode at TRAMPOLINE_PADDR (CS = 0x0800, IP = 0).
 * Both end in cpu_start with the CPU index in EDI, which leaves ring 0 for
 * rt_ring3_entry(index) on that CPU's user stack.
 */
#include "layout.h"

#define CR0_PE 0x00000001
#define CR0_NW 0x20000000
#define CR0_CD 0x40000000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100
#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_A 0x20
#define PTE_D 0x40
#define PTE_PS 0x80
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LVT_MASKED 0x10000

/* PVH entry point note (Xen public/elfnote.h: XEN_ELFNOTE_PHYS32_ENTRY = 18):
 * the 32-bit physical address of pvh_entry. */
        .section .note.Xen, "a", @note
        .p2align 2
        .long 4, 4, 18
        .asciz "Xen"
        .long pvh_entry

        .section .note.GNU-stack, "", @progbits

        .text
        .code32
        .globl pvh_entry
pvh_entry:
        cli
        cld
        movl %ebx, rt_start_info_paddr
        lgdtl rt_gdt_ptr
        movw $SEL_KDATA, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        xorl %esi, %esi /* CPU index 0 */
        jmp enter_long_mode

/* APs come here from the trampoline with ESI = CPU index. */
ap_entry32:
        movw $SEL_KDATA, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
enter_long_mode:
        movl %cr4, %eax
        orl $CR4_PAE, %eax
        movl %eax, %cr4
        movl $rt_pml4, %eax
        movl %eax, %cr3
        movl $MSR_EFER, %ecx
        rdmsr
        orl $EFER_LME, %eax
        wrmsr
        movl %cr0, %eax
        andl $~(CR0_CD | CR0_NW), %eax /* caches on, whatever the VMM left */
        orl $(CR0_PG | CR0_PE), %eax
        movl %eax, %cr0
        ljmpl $SEL_KCODE64, $cpu_start

        .code64
/* EDI/ESI = CPU index. Sets up this CPU's ring-0 stack, TSS and IDT and
 * irets to ring 3. */
cpu_start:
        movl %esi, %edi
        /* rsp = top of this CPU's ring-0 stack */
        leaq 1(%rdi), %rax
        shlq $13, %rax /* KSTACK_SIZE */
        addq $rt_kstacks, %rax
        movq %rax, %rsp
        /* TSS: RSP0, I/O bitmap offset past the limit (no bitmap) */
        movq %rdi, %rbx
        shlq $7, %rbx /* TSS_STRIDE */
        addq $rt_tss, %rbx
        movq %rax, 4(%rbx)
        movw $104, 102(%rbx)
        /* Available 64-bit TSS descriptor (type 9, present), limit 103 */
        movq %rdi, %rcx
        shlq $4, %rcx
        addq $(rt_gdt + SEL_TSS0), %rcx
        movl %ebx, %eax
        shll $16, %eax
        orl $103, %eax
        movl %eax, (%rcx)
        movl %ebx, %eax
        shrl $16, %eax
        andl $0xFF, %eax
        orl $0x8900, %eax
        movl %ebx, %edx
        andl $0xFF000000, %edx
        orl %edx, %eax
        movl %eax, 4(%rcx)
        subq $rt_gdt, %rcx
        ltr %cx
        lidt rt_idt_ptr
        /* Mask LINT0/LINT1: firmware may have left the 8259 wired to LINT0 */
        movl $LVT_MASKED, %eax
        movabsl %eax, LAPIC_BASE + LAPIC_LVT_LINT0
        movabsl %eax, LAPIC_BASE + LAPIC_LVT_LINT1
        /* iretq to rt_ring3_entry(index) on the user stack, IF = 1 */
        leaq 1(%rdi), %rax
        shlq $14, %rax /* USTACK_SIZE */
        addq $rt_ustacks - 8, %rax
        pushq $SEL_UDATA
        pushq %rax
        pushq $0x202
        pushq $SEL_UCODE64
        pushq $rt_ring3_entry
        iretq

/* The AP start-up blob. Ring-3 code copies it to TRAMPOLINE_PADDR and fills
 * rt_trampoline_index (APIC ID -> CPU index, 0xFF = not ours). The started
 * flags make a second STARTUP IPI that reaches a CPU which already ran the
 * first one harmless. */
        .code16
        .globl rt_trampoline_start, rt_trampoline_index, rt_trampoline_started
        .globl rt_trampoline_end
rt_trampoline_start:
        cli
        cld
        movw %cs, %ax
        movw %ax, %ds
        movl $1, %eax
        cpuid
        shrl $24, %ebx /* initial APIC ID */
        movb $1, %al
        xchgb %al, (rt_trampoline_started - rt_trampoline_start)(%bx)
        testb %al, %al
        jnz 1f
        movzbl (rt_trampoline_index - rt_trampoline_start)(%bx), %esi
        cmpl $0xFF, %esi
        je 1f
        lgdtl (tr_gdt_ptr - rt_trampoline_start)
        movl %cr0, %eax
        orl $CR0_PE, %eax
        movl %eax, %cr0
        ljmpl $SEL_KCODE32, $ap_entry32
1:      cli
        hlt
        jmp 1b
        .p2align 2
tr_gdt_ptr:
        .word GDT_BYTES - 1
        .long rt_gdt
rt_trampoline_index:
        .fill 256, 1, 0xFF
rt_trampoline_started:
        .fill 256, 1, 0
rt_trampoline_end:

        .data
        .p2align 3
        .globl rt_start_info_paddr
rt_start_info_paddr:
        .long 0, 0

        .p2align 3
        .globl rt_gdt
rt_gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF /* 0x08 ring-0 code, 64-bit */
        .quad 0x00CF92000000FFFF /* 0x10 ring-0 data */
        .quad 0x00CF9A000000FFFF /* 0x18 ring-0 code, 32-bit */
        .quad 0x00CFF2000000FFFF /* 0x20 ring-3 data */
        .quad 0x00AFFA000000FFFF /* 0x28 ring-3 code, 64-bit */
        .fill 16 * RT_MAX_CPUS, 1, 0 /* 0x30 TSS descriptors */
rt_gdt_ptr:
        .word GDT_BYTES - 1
        .quad rt_gdt

        .globl rt_idt, rt_idt_ptr
rt_idt_ptr:
        .word 4095
        .quad rt_idt

/* Identity map of 0-4 GiB with 2 MiB pages, user-accessible (ring-3 code
 * does the work here) and write-back, except the LAPIC page: uncached.
 * PDPT entries 4..63 (RAM above 4 GiB) are filled at run time.
 * Accessed and Dirty are set from the start, as Linux does for its kernel
 * mappings (__PAGE_KERNEL): the CPU (or KVM's shadow MMU, for it) then
 * never writes a page-table entry. A write would move the page-table page
 * between nodes each time a vCPU on another node first touches a 2 MiB
 * region it maps, and every move drops the translations of the node
 * that loses the page (Intel SDM vol. 3A, 4.8: Accessed and Dirty flags). */
        .p2align 12
        .globl rt_pml4, rt_pdpt
rt_pml4:
        .quad rt_pdpt + (PTE_P | PTE_RW | PTE_US | PTE_A)
        .fill 511, 8, 0
rt_pdpt:
        .quad rt_pd + 0x0000 + (PTE_P | PTE_RW | PTE_US | PTE_A)
        .quad rt_pd + 0x1000 + (PTE_P | PTE_RW | PTE_US | PTE_A)
        .quad rt_pd + 0x2000 + (PTE_P | PTE_RW | PTE_US | PTE_A)
        .quad rt_pd + 0x3000 + (PTE_P | PTE_RW | PTE_US | PTE_A)
        .fill 508, 8, 0
rt_pd:
        .set page, 0
        .rept 2048
        .if page == LAPIC_BASE
        .quad page + (PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_PS | PTE_A | PTE_D)
        .else
        .quad page + (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_A | PTE_D)
        .endif
        .set page, page + 0x200000
        .endr

        .bss
        .p2align 12
rt_idt:
        .skip 4096
        .globl rt_tss, rt_kstacks, rt_ustacks
rt_tss:
        .skip TSS_STRIDE * RT_MAX_CPUS
        .p2align 13
rt_kstacks:
        .skip KSTACK_SIZE * RT_MAX_CPUS
        .p2align 14
rt_ustacks:
        .skip USTACK_SIZE * RT_MAX_CPUS
