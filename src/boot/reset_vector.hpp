// What a guest finds at the x86 reset vector (F000:FFF0, memory::kResetVector)
// in place of firmware. A PC's firmware restarts the machine from there; a
// guest jumps there to reboot when nothing else worked. Linux does on a
// hardware-reduced ACPI platform without EFI: it then chooses an EFI reboot
// over the FADT's reset register (arch/x86/kernel/reboot.c, reboot_init) and
// falls back to a real-mode jump to this vector. The stub, in 16-bit real
// mode, writes the FADT's reset value to its reset port, which ends the run
// with the reset status (README, Exit status), and halts should that not
// happen.
#pragma once

#include <array>
#include <cstdint>

namespace amalgam::boot {

std::array<uint8_t, 16> reset_vector_stub();

}  // namespace amalgam::boot
