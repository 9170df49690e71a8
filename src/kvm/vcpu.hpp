#pragma once

#include "kvm/kvm_abi.hpp"

#include <cstdint>
#include <span>
#include <vector>

#include "common/mapping.hpp"
#include "common/unique_fd.hpp"

namespace amalgam::kvm {

class Vcpu {
 public:
  Vcpu(UniqueFd fd, size_t mmap_size);

  // KVM_RUN. Returns false when interrupted (EINTR, or immediate_exit was
  // set by a kick) and true when there is an exit to handle in run().
  bool run();
  kvm_run& run_state() const { return *reinterpret_cast<kvm_run*>(run_.data()); }

  kvm_regs regs() const;
  void set_regs(const kvm_regs& r);
  kvm_sregs sregs() const;
  void set_sregs(const kvm_sregs& s);
  kvm_fpu fpu() const;
  void set_fpu(const kvm_fpu& f);
  void set_cpuid(std::span<const kvm_cpuid_entry2> entries);
  uint64_t get_msr(uint32_t index) const;
  void set_msr(uint32_t index, uint64_t value);
  kvm_vcpu_events events() const;
  void set_events(const kvm_vcpu_events& e);
  void interrupt(uint8_t vector);  // KVM_INTERRUPT (no in-kernel irqchip)
  void nmi();                      // KVM_NMI
  uint32_t tsc_khz() const;        // KVM_GET_TSC_KHZ
  // The guest TSC = host TSC + offset (KVM_VCPU_TSC_CTRL/KVM_VCPU_TSC_OFFSET,
  // Linux 5.16+). Returns false, changing nothing, where KVM lacks it.
  bool set_tsc_offset(int64_t offset);

  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  Mapping run_;
};

}  // namespace amalgam::kvm
