#include "memory/userfaultfd.hpp"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>

#include "common/error.hpp"

namespace amalgam::memory {

namespace {

constexpr int kFlags = O_CLOEXEC | O_NONBLOCK;  // no UFFD_USER_MODE_ONLY: KVM faults in the kernel

int open_userfaultfd() {
  long fd = ::syscall(SYS_userfaultfd, kFlags);
  if (fd >= 0) return static_cast<int>(fd);
  int call_errno = errno;
  // The system call may be limited (vm.unprivileged_userfaultfd); the device
  // is governed by file permissions instead.
  int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) throw SystemError("userfaultfd", call_errno);
  UniqueFd device(dev);
  return static_cast<int>(check_syscall(::ioctl(dev, USERFAULTFD_IOC_NEW, kFlags), "USERFAULTFD_IOC_NEW"));
}

uffdio_range range_of(void* addr, size_t len) {
  return uffdio_range{reinterpret_cast<uint64_t>(addr), len};
}

// Runs a UFFDIO_COPY/ZEROPAGE-style ioctl until all of it is done. The kernel
// reports in `done` the bytes it filled (or -errno); on EAGAIN (the mm is
// changing) advance(done) skips them and says whether anything is left.
// False on EEXIST: a page was already there.
template <typename Arg, typename Done, typename Advance>
bool fill(int fd, unsigned long request, const char* name, Arg& arg, Done& done, Advance advance) {
  for (;;) {
    done = 0;
    if (::ioctl(fd, request, &arg) == 0) return true;
    int err = errno;
    if (err == EEXIST) return false;
    if (err != EAGAIN) throw SystemError(name, err);
    if (done > 0 && !advance(static_cast<uint64_t>(done))) return true;
  }
}

}  // namespace

Userfaultfd::Userfaultfd() : fd_(open_userfaultfd()) {}

uint64_t Userfaultfd::supported_features() {
  Userfaultfd probe;
  return probe.api(0);
}

uint64_t Userfaultfd::api(uint64_t features) {
  uffdio_api arg{};
  arg.api = UFFD_API;
  arg.features = features;
  check_syscall(::ioctl(fd_.get(), UFFDIO_API, &arg), "UFFDIO_API");
  return arg.features;
}

uint64_t Userfaultfd::register_range(void* addr, size_t len, bool missing, bool wp) {
  uffdio_register arg{};
  arg.range = range_of(addr, len);
  arg.mode = (missing ? UFFDIO_REGISTER_MODE_MISSING : 0) | (wp ? UFFDIO_REGISTER_MODE_WP : 0);
  check_syscall(::ioctl(fd_.get(), UFFDIO_REGISTER, &arg), "UFFDIO_REGISTER");
  return arg.ioctls;
}

void Userfaultfd::unregister_range(void* addr, size_t len) {
  uffdio_range arg = range_of(addr, len);
  check_syscall(::ioctl(fd_.get(), UFFDIO_UNREGISTER, &arg), "UFFDIO_UNREGISTER");
}

bool Userfaultfd::copy(void* dst, const void* src, size_t len, bool write_protect, bool wake) {
  uffdio_copy arg{};
  arg.dst = reinterpret_cast<uint64_t>(dst);
  arg.src = reinterpret_cast<uint64_t>(src);
  arg.len = len;
  arg.mode = (write_protect ? UFFDIO_COPY_MODE_WP : 0) | (wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE);
  return fill(fd_.get(), UFFDIO_COPY, "UFFDIO_COPY", arg, arg.copy, [&arg](uint64_t done) {
    arg.dst += done;
    arg.src += done;
    arg.len -= done;
    return arg.len > 0;
  });
}

bool Userfaultfd::zeropage(void* dst, size_t len, bool wake) {
  uffdio_zeropage arg{};
  arg.range = range_of(dst, len);
  arg.mode = wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE;
  return fill(fd_.get(), UFFDIO_ZEROPAGE, "UFFDIO_ZEROPAGE", arg, arg.zeropage, [&arg](uint64_t done) {
    arg.range.start += done;
    arg.range.len -= done;
    return arg.range.len > 0;
  });
}

void Userfaultfd::write_protect(void* addr, size_t len, bool protect, bool wake) {
  uffdio_writeprotect arg{};
  arg.range = range_of(addr, len);
  arg.mode = (protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0) | (wake ? 0 : UFFDIO_WRITEPROTECT_MODE_DONTWAKE);
  while (::ioctl(fd_.get(), UFFDIO_WRITEPROTECT, &arg) != 0) {
    if (errno != EAGAIN) throw SystemError("UFFDIO_WRITEPROTECT", errno);
  }
}

void Userfaultfd::wake(void* addr, size_t len) {
  uffdio_range arg = range_of(addr, len);
  check_syscall(::ioctl(fd_.get(), UFFDIO_WAKE, &arg), "UFFDIO_WAKE");
}

size_t Userfaultfd::read_events(std::vector<FaultEvent>& out) {
  std::array<uffd_msg, 64> msgs;
  size_t faults = 0;
  for (;;) {
    ssize_t n = ::read(fd_.get(), msgs.data(), sizeof msgs);
    if (n < 0) {
      if (errno == EAGAIN) return faults;
      if (errno == EINTR) continue;
      throw SystemError("read(userfaultfd)", errno);
    }
    size_t count = static_cast<size_t>(n) / sizeof(uffd_msg);
    for (size_t i = 0; i < count; ++i) {
      const uffd_msg& m = msgs[i];
      if (m.event != UFFD_EVENT_PAGEFAULT) {
        ++ignored_events_;
        continue;
      }
      uint64_t flags = m.arg.pagefault.flags;
      out.push_back({m.arg.pagefault.address, (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0,
                     (flags & UFFD_PAGEFAULT_FLAG_WP) != 0});
      ++faults;
    }
    if (count < msgs.size()) return faults;
  }
}

std::string feature_names(uint64_t features) {
  // UFFD_FEATURE_* bit order; the last four came after the 6.1 headers.
  static constexpr const char* kNames[] = {
      "PAGEFAULT_FLAG_WP", "EVENT_FORK",      "EVENT_REMAP",      "EVENT_REMOVE",   "MISSING_HUGETLBFS",
      "MISSING_SHMEM",     "EVENT_UNMAP",     "SIGBUS",           "THREAD_ID",      "MINOR_HUGETLBFS",
      "MINOR_SHMEM",       "EXACT_ADDRESS",   "WP_HUGETLBFS_SHMEM", "WP_UNPOPULATED", "POISON",
      "WP_ASYNC",          "MOVE"};
  std::string out;
  for (uint64_t bit = 0; bit < 64; ++bit) {
    if (!((features >> bit) & 1)) continue;
    if (!out.empty()) out += '|';
    out += bit < std::size(kNames) ? std::string(kNames[bit]) : fmt::format("{:#x}", uint64_t{1} << bit);
  }
  return out.empty() ? "none" : out;
}

}  // namespace amalgam::memory
