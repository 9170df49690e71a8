// RAII wrapper over one userfaultfd: the handshake, registration, resolving
// faults (copy, zero page, write protection, wake) and reading fault events.
//
// Every failed ioctl throws SystemError naming it ("UFFDIO_COPY: ..."), except
// the answers the kernel gives for races, which the caller must see:
//   - EEXIST from UFFDIO_COPY / UFFDIO_ZEROPAGE: the page is already
//     populated. copy() and zeropage() return false; nothing was changed.
//   - EAGAIN from UFFDIO_COPY / ZEROPAGE / WRITEPROTECT: the address space is
//     changing under us (fork, mremap, munmap with non-cooperative events).
//     The call is retried for whatever part was not done yet.
//   - EAGAIN from read(): no event pending (the fd is non-blocking).
//
// The system headers (linux-libc-dev 6.1) are older than the running kernel
// (6.18 here); feature_names() also names the bits added since 6.1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace amalgam::memory {

class Userfaultfd {
 public:
  struct FaultEvent {
    uint64_t address = 0;  // page-aligned (no UFFD_FEATURE_EXACT_ADDRESS)
    bool write = false;    // the access was a write
    bool wp = false;       // raised by write protection (else: page missing)
  };

  // A new, non-blocking, close-on-exec userfaultfd that also handles faults
  // taken in the kernel (KVM touching guest memory): the userfaultfd(2)
  // system call, or /dev/userfaultfd (USERFAULTFD_IOC_NEW) where the call is
  // refused. The handshake is not done yet: call api().
  Userfaultfd();

  // Every UFFD_FEATURE_* bit the running kernel supports (probed on a
  // throw-away fd, since UFFDIO_API may succeed only once per fd).
  static uint64_t supported_features();

  // The UFFDIO_API handshake asking for `features`; throws SystemError
  // ("UFFDIO_API") when the kernel lacks any of them. Returns the features the
  // kernel reports as supported.
  uint64_t api(uint64_t features);

  // UFFDIO_REGISTER [addr, addr+len) for missing-page and/or write-protect
  // faults (wp needs UFFD_FEATURE_PAGEFAULT_FLAG_WP on anonymous memory).
  // Returns the ioctls the range supports (bit _UFFDIO_COPY, ...).
  uint64_t register_range(void* addr, size_t len, bool missing, bool wp);
  // UFFDIO_UNREGISTER; the kernel wakes every thread blocked in the range,
  // clears its write protection, and later accesses fault normally.
  void unregister_range(void* addr, size_t len);

  // UFFDIO_COPY of len bytes from src to the missing pages at dst, mapped
  // write-protected if write_protect (UFFDIO_COPY_MODE_WP: atomically, no
  // window in which the page is writable). Wakes the waiting threads unless
  // !wake. False (and nothing mapped) if a page was already there.
  bool copy(void* dst, const void* src, size_t len, bool write_protect, bool wake = true);
  // UFFDIO_ZEROPAGE: maps the zero page (copy-on-write on the first write).
  // There is no write-protected variant; see copy(). False if already there.
  bool zeropage(void* dst, size_t len, bool wake = true);
  // UFFDIO_WRITEPROTECT: set (protect) or clear write protection. Clearing
  // wakes the threads blocked on it unless !wake.
  void write_protect(void* addr, size_t len, bool protect, bool wake = true);
  // UFFDIO_WAKE: threads blocked on [addr, addr+len) retry their access.
  void wake(void* addr, size_t len);

  // Appends the pending page-fault events (non-blocking; stops at EAGAIN).
  // Other event types (fork, remap, remove, unmap: only sent when asked for
  // in api()) are counted in ignored_events() and dropped. Returns the number
  // of fault events appended.
  size_t read_events(std::vector<FaultEvent>& out);
  uint64_t ignored_events() const { return ignored_events_; }

  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  uint64_t ignored_events_ = 0;
};

// "PAGEFAULT_FLAG_WP|EVENT_FORK|...", unknown bits in hex: for diagnostics.
std::string feature_names(uint64_t features);

}  // namespace amalgam::memory
