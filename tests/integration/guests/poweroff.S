/* Powers off through the FADT sleep control register: SLP_TYP = 5 (S5) in
   bits 4:2 and SLP_EN (bit 5), ACPI 6.x 4.8.3.7; amalgam exits with 0. */
#include "pvh_note.inc"
.code32
.text
.global _start
_start:
    movw $0x600, %dx
    movb $((5 << 2) | (1 << 5)), %al
    outb %al, %dx
1:  hlt
    jmp 1b
