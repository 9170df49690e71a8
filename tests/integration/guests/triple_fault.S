/* An exception with an empty IDT: #UD cannot be delivered, nor the #DF that
   follows, so the CPU shuts down (Intel SDM vol. 3 6.15, interrupt 8). */
#include "pvh_note.inc"
.code32
.text
.global _start
_start:
    lidt empty_idt
    ud2
.data
empty_idt:
    .word 0
    .long 0
