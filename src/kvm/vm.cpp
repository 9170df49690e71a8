#include "kvm/vm.hpp"

#include <sys/ioctl.h>

#include <cerrno>
#include <vector>

#include "common/error.hpp"
#include "common/wall_clock.hpp"

namespace amalgam::kvm {

void Vm::set_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host) {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.guest_phys_addr = gpa;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host);
  check_syscall(::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");
}

void Vm::set_tss_address(uint64_t gpa) {
  check_syscall(::ioctl(fd_.get(), KVM_SET_TSS_ADDR, gpa), "KVM_SET_TSS_ADDR");
}

void Vm::set_identity_map_address(uint64_t gpa) {
  check_syscall(::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &gpa), "KVM_SET_IDENTITY_MAP_ADDR");
}

void Vm::set_clock(uint64_t clock_ns, uint64_t realtime_ns) {
  kvm_clock_data data{};
  data.clock = clock_ns;
  data.realtime = realtime_ns;
  data.flags = KVM_CLOCK_REALTIME;
  if (::ioctl(fd_.get(), KVM_SET_CLOCK, &data) == 0) return;
  if (errno != EINVAL) throw SystemError("KVM_SET_CLOCK", errno);
  // An older KVM refuses the flag: advance the value to now ourselves.
  uint64_t now_ns = amalgam::realtime_ns();  // (the parameter shadows the name)
  data = {};
  data.clock = clock_ns + (now_ns > realtime_ns ? now_ns - realtime_ns : 0);
  check_syscall(::ioctl(fd_.get(), KVM_SET_CLOCK, &data), "KVM_SET_CLOCK");
}

void Vm::trap_msrs(std::span<const uint32_t> msrs) {
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
  cap.args[0] = KVM_MSR_EXIT_REASON_FILTER;
  check_syscall(::ioctl(fd_.get(), KVM_ENABLE_CAP, &cap), "KVM_ENABLE_CAP(X86_USER_SPACE_MSR)");

  // One single-MSR range per MSR, bitmap bit 0 clear: denied in-kernel, so
  // the access exits to us.
  kvm_msr_filter filter{};
  filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
  static uint8_t deny = 0;
  if (msrs.size() > KVM_MSR_FILTER_MAX_RANGES) throw SystemError("KVM_X86_SET_MSR_FILTER (too many MSRs)", E2BIG);
  for (size_t i = 0; i < msrs.size(); ++i) {
    filter.ranges[i].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
    filter.ranges[i].nmsrs = 1;
    filter.ranges[i].base = msrs[i];
    filter.ranges[i].bitmap = &deny;
  }
  check_syscall(::ioctl(fd_.get(), KVM_X86_SET_MSR_FILTER, &filter), "KVM_X86_SET_MSR_FILTER");
}

Vcpu Vm::create_vcpu(uint32_t id) {
  int fd = static_cast<int>(check_syscall(::ioctl(fd_.get(), KVM_CREATE_VCPU, id), "KVM_CREATE_VCPU"));
  return Vcpu(UniqueFd(fd), vcpu_mmap_size_);
}

}  // namespace amalgam::kvm
