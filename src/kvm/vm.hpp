#pragma once

#include "kvm/kvm_abi.hpp"

#include <cstdint>
#include <span>

#include "common/unique_fd.hpp"
#include "kvm/vcpu.hpp"

namespace amalgam::kvm {

class Vm {
 public:
  Vm(UniqueFd fd, size_t vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

  // KVM_SET_USER_MEMORY_REGION: guest-physical [gpa, gpa+size) is backed by host.
  void set_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host);
  // KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR: three pages and one page of
  // guest-physical space that Intel VMX uses for real mode; they must lie in
  // the MMIO hole, away from RAM and devices.
  void set_tss_address(uint64_t gpa);
  void set_identity_map_address(uint64_t gpa);
  // KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR) + KVM_X86_SET_MSR_FILTER: the
  // listed MSRs exit to userspace (KVM_EXIT_X86_RDMSR/WRMSR) on read and write.
  void trap_msrs(std::span<const uint32_t> msrs);
  Vcpu create_vcpu(uint32_t id);  // KVM_CREATE_VCPU
  // KVM_SET_CLOCK: kvmclock reads `clock_ns` at host CLOCK_REALTIME
  // `realtime_ns` (KVM_CLOCK_REALTIME, Linux 5.16+). Where KVM does not take
  // the flag the value is set as of now, computed from the same pair.
  void set_clock(uint64_t clock_ns, uint64_t realtime_ns);

  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  size_t vcpu_mmap_size_;
};

}  // namespace amalgam::kvm
