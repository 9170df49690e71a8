// Register state at the points where a vCPU starts executing.
#pragma once

#include "kvm/kvm_abi.hpp"

#include <cstdint>

namespace amalgam::vcpu {

// Xen PVH entry (xen/include/public/arch-x86/hvm/start_info.h, "Register
// state"): 32-bit protected mode, paging off, flat 4 GiB CS (execute/read) and
// DS/ES/SS (read/write), TR a valid 32-bit TSS, EBX = start_info address.
void set_pvh_entry_state(kvm_sregs& sregs, kvm_regs& regs, uint64_t entry, uint64_t start_info);

// After a STARTUP IPI (Intel SDM vol. 3 8.4.3): real mode at CS:IP =
// (vector << 8):0000, i.e. physical address vector << 12. Everything else is
// what INIT left (the caller restores the power-on state first).
void set_startup_state(kvm_sregs& sregs, kvm_regs& regs, uint8_t vector);

}  // namespace amalgam::vcpu
