// Owning mmap()ed region: unmapped exactly once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace amalgam {

class Mapping {
 public:
  Mapping() = default;
  // Anonymous private memory, lazily backed (MAP_NORESERVE): guest RAM of
  // many GiB costs nothing until the guest touches it.
  static Mapping anonymous(size_t size);
  // A shared mapping of an fd (e.g. the vCPU's struct kvm_run).
  static Mapping of_fd(int fd, size_t size, const char* what);

  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
  size_t size() const { return size_; }

 private:
  Mapping(void* addr, size_t size) : addr_(addr), size_(size) {}
  void release();
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace amalgam
