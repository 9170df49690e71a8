/* Resets through the FADT reset register (value 1 at port 0x602); amalgam
   ends with its documented reset status, 3. */
#include "pvh_note.inc"
.code32
.text
.global _start
_start:
    movw $0x602, %dx
    movb $1, %al
    outb %al, %dx
1:  hlt
    jmp 1b
