/* int3 at CPL0: the instruction emulator of a nested KVM without hardware
   virtualisation rejects it (docs/platform.md); on hardware KVM the guest
   takes #BP with an empty IDT and shuts down instead. Either way amalgam
   must stop with a one-line reason naming vCPU and RIP. */
#include "pvh_note.inc"
.code32
.text
.global _start
_start:
    int3
1:  jmp 1b
