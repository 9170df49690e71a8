#include "kvm/vcpu.hpp"

#include <sys/ioctl.h>

#include <cerrno>
#include <algorithm>
#include <memory>

#include "common/error.hpp"

namespace amalgam::kvm {

namespace {
template <typename T>
T get(int fd, unsigned long request, const char* name) {
  T value{};
  check_syscall(::ioctl(fd, request, &value), name);
  return value;
}
template <typename T>
void set(int fd, unsigned long request, const T& value, const char* name) {
  check_syscall(::ioctl(fd, request, &value), name);
}
}  // namespace

Vcpu::Vcpu(UniqueFd fd, size_t mmap_size)
    : fd_(std::move(fd)), run_(Mapping::of_fd(fd_.get(), mmap_size, "kvm_run")) {}

bool Vcpu::run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) == 0) return true;
  if (errno == EINTR || errno == EAGAIN) return false;
  throw SystemError("KVM_RUN", errno);
}

kvm_regs Vcpu::regs() const { return get<kvm_regs>(fd_.get(), KVM_GET_REGS, "KVM_GET_REGS"); }
void Vcpu::set_regs(const kvm_regs& r) { set(fd_.get(), KVM_SET_REGS, r, "KVM_SET_REGS"); }
kvm_sregs Vcpu::sregs() const { return get<kvm_sregs>(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS"); }
void Vcpu::set_sregs(const kvm_sregs& s) { set(fd_.get(), KVM_SET_SREGS, s, "KVM_SET_SREGS"); }
kvm_fpu Vcpu::fpu() const { return get<kvm_fpu>(fd_.get(), KVM_GET_FPU, "KVM_GET_FPU"); }
void Vcpu::set_fpu(const kvm_fpu& f) { set(fd_.get(), KVM_SET_FPU, f, "KVM_SET_FPU"); }
kvm_vcpu_events Vcpu::events() const {
  return get<kvm_vcpu_events>(fd_.get(), KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS");
}
void Vcpu::set_events(const kvm_vcpu_events& e) { set(fd_.get(), KVM_SET_VCPU_EVENTS, e, "KVM_SET_VCPU_EVENTS"); }

void Vcpu::set_cpuid(std::span<const kvm_cpuid_entry2> entries) {
  auto buf = std::make_unique<uint8_t[]>(sizeof(kvm_cpuid2) + entries.size() * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.get());
  cpuid->nent = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), cpuid->entries);
  check_syscall(::ioctl(fd_.get(), KVM_SET_CPUID2, cpuid), "KVM_SET_CPUID2");
}

namespace {
// struct kvm_msrs ends in a flexible array: lay one entry out after it by hand.
struct OneMsr {
  alignas(kvm_msrs) uint8_t bytes[sizeof(kvm_msrs) + sizeof(kvm_msr_entry)] = {};
  kvm_msrs* header() { return reinterpret_cast<kvm_msrs*>(bytes); }
  kvm_msr_entry& entry() { return header()->entries[0]; }
};
}  // namespace

uint64_t Vcpu::get_msr(uint32_t index) const {
  OneMsr m;
  m.header()->nmsrs = 1;
  m.entry().index = index;
  long n = check_syscall(::ioctl(fd_.get(), KVM_GET_MSRS, m.header()), "KVM_GET_MSRS");
  if (n != 1) throw SystemError("KVM_GET_MSRS", EINVAL);
  return m.entry().data;
}

void Vcpu::set_msr(uint32_t index, uint64_t value) {
  OneMsr m;
  m.header()->nmsrs = 1;
  m.entry().index = index;
  m.entry().data = value;
  long n = check_syscall(::ioctl(fd_.get(), KVM_SET_MSRS, m.header()), "KVM_SET_MSRS");
  if (n != 1) throw SystemError("KVM_SET_MSRS", EINVAL);
}

void Vcpu::interrupt(uint8_t vector) {
  kvm_interrupt irq{};
  irq.irq = vector;
  check_syscall(::ioctl(fd_.get(), KVM_INTERRUPT, &irq), "KVM_INTERRUPT");
}

void Vcpu::nmi() { check_syscall(::ioctl(fd_.get(), KVM_NMI, 0), "KVM_NMI"); }

bool Vcpu::set_tsc_offset(int64_t offset) {
  kvm_device_attr attr{};
  attr.group = KVM_VCPU_TSC_CTRL;
  attr.attr = KVM_VCPU_TSC_OFFSET;
  attr.addr = reinterpret_cast<uint64_t>(&offset);
  if (::ioctl(fd_.get(), KVM_HAS_DEVICE_ATTR, &attr) != 0) {
    if (errno == ENXIO || errno == ENOTTY || errno == EINVAL) return false;
    throw SystemError("KVM_HAS_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET)", errno);
  }
  check_syscall(::ioctl(fd_.get(), KVM_SET_DEVICE_ATTR, &attr), "KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET)");
  return true;
}

uint32_t Vcpu::tsc_khz() const {
  return static_cast<uint32_t>(check_syscall(::ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0), "KVM_GET_TSC_KHZ"));
}

}  // namespace amalgam::kvm
