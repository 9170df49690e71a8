#include "kvm/system.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "kvm/vm.hpp"

namespace amalgam::kvm {

const char* device_path() {
  const char* path = std::getenv("AMALGAM_KVM_DEVICE");
  return path != nullptr && *path != '\0' ? path : "/dev/kvm";
}

System::System() {
  const char* path = device_path();
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string call = std::string("open(") + path + ")";
    if (err == ENOENT || err == ENXIO || err == ENODEV) throw Unavailable(call, err);
    throw SystemError(call, err);
  }
  fd_.reset(fd);
  int version = static_cast<int>(check_syscall(::ioctl(fd, KVM_GET_API_VERSION, 0), "KVM_GET_API_VERSION"));
  if (version != KVM_API_VERSION) throw SystemError("KVM_GET_API_VERSION (not 12)", EINVAL);
}

int System::check_extension(long cap) const {
  return static_cast<int>(check_syscall(::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap), "KVM_CHECK_EXTENSION"));
}

size_t System::vcpu_mmap_size() const {
  return static_cast<size_t>(
      check_syscall(::ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE"));
}

std::vector<kvm_cpuid_entry2> System::supported_cpuid() const {
  // Grow the buffer until KVM stops answering E2BIG.
  for (uint32_t n = 64;; n *= 2) {
    auto buf = std::make_unique<uint8_t[]>(sizeof(kvm_cpuid2) + n * sizeof(kvm_cpuid_entry2));
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.get());
    cpuid->nent = n;
    if (::ioctl(fd_.get(), KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
      return {cpuid->entries, cpuid->entries + cpuid->nent};
    if (errno != E2BIG || n > 4096) throw SystemError("KVM_GET_SUPPORTED_CPUID", errno);
  }
}

Vm System::create_vm() const {
  int fd = static_cast<int>(check_syscall(::ioctl(fd_.get(), KVM_CREATE_VM, 0), "KVM_CREATE_VM"));
  return Vm(UniqueFd(fd), vcpu_mmap_size());
}

}  // namespace amalgam::kvm
