#include "vcpu/boot_state.hpp"

namespace amalgam::vcpu {

namespace {
kvm_segment flat_segment(uint16_t selector, uint8_t type) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xFFFF'FFFF;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.db = 1;
  s.s = 1;
  s.l = 0;
  s.g = 1;
  return s;
}
}  // namespace

void set_pvh_entry_state(kvm_sregs& sregs, kvm_regs& regs, uint64_t entry, uint64_t start_info) {
  sregs.cs = flat_segment(0x10, 0xB);  // execute/read, accessed
  auto data = flat_segment(0x18, 0x3);  // read/write, accessed
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.tr = kvm_segment{};
  sregs.tr.selector = 0x20;
  sregs.tr.limit = 0x67;
  sregs.tr.type = 0xB;  // busy 32-bit TSS
  sregs.tr.present = 1;
  sregs.cr0 = 0x11;  // PE, ET
  sregs.cr4 = 0;
  sregs.efer = 0;
  regs = kvm_regs{};
  regs.rip = entry;
  regs.rbx = start_info;
  regs.rflags = 0x2;  // bit 1 is always set
}

void set_startup_state(kvm_sregs& sregs, kvm_regs& regs, uint8_t vector) {
  sregs.cs.selector = static_cast<uint16_t>(vector) << 8;
  sregs.cs.base = static_cast<uint64_t>(vector) << 12;
  sregs.cs.limit = 0xFFFF;
  regs.rip = 0;
}

}  // namespace amalgam::vcpu
