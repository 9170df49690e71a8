/* Reads and writes one I/O port (0x80) and one MMIO address (0xFED00000,
   above guest RAM, below the LAPIC) that no device decodes: reads must
   return all ones, as on a PC, and amalgam --stats must count two of each.
   Exits through the debug-exit port with 0, or 1 when a read was not all
   ones. */
#include "pvh_note.inc"
.code32
.text
.global _start
_start:
    inb $0x80, %al
    cmpb $0xff, %al
    jne 2f
    outb %al, $0x80
    movl 0xFED00000, %eax
    cmpl $0xffffffff, %eax
    jne 2f
    movl %eax, 0xFED00000
    movl $0, %eax
    outl %eax, $0xf4
1:  hlt
    jmp 1b
2:  movl $1, %eax
    outl %eax, $0xf4
    jmp 1b
