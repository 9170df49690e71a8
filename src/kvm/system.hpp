// RAII wrappers over the KVM API (Documentation/virt/kvm/api.rst).
// This layer knows nothing of guests, devices or the DSM: it turns ioctls into
// methods and failed ioctls into SystemError naming the ioctl.
#pragma once

#include "kvm/kvm_abi.hpp"

#include <cstdint>
#include <vector>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace amalgam::kvm {

class Vm;

// The KVM device: $AMALGAM_KVM_DEVICE when set (a test points it elsewhere),
// else /dev/kvm.
const char* device_path();

// This host has no KVM device at all (open fails with ENOENT, ENXIO or
// ENODEV), as opposed to one that fails: the caller can say what to do
// instead.
class Unavailable : public SystemError {
 public:
  using SystemError::SystemError;
};

// The /dev/kvm system handle.
class System {
 public:
  // Opens device_path(); checks KVM_GET_API_VERSION == 12. Throws
  // Unavailable when there is no such device.
  System();

  int check_extension(long cap) const;  // KVM_CHECK_EXTENSION
  size_t vcpu_mmap_size() const;        // KVM_GET_VCPU_MMAP_SIZE
  // KVM_GET_SUPPORTED_CPUID: what this KVM can show a guest.
  std::vector<kvm_cpuid_entry2> supported_cpuid() const;
  Vm create_vm() const;  // KVM_CREATE_VM

  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace amalgam::kvm
