/* Never ends: amalgam must stop it at --timeout with a one-line reason. */
#include "pvh_note.inc"
.code32
.text
.global _start
_start:
1:  jmp 1b
