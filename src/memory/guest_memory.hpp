// Host mappings of guest RAM and checked access to it.
//
// Each RAM range of the Layout gets its own anonymous, lazily backed mapping
// (one KVM memory slot each). Host code that reads or writes guest memory
// (loader, devices) goes through read()/write(), which check bounds; later a
// DSM engine registers these mappings with userfaultfd, so host accesses
// fault through it like the guest's own.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "common/mapping.hpp"
#include "memory/layout.hpp"

namespace amalgam::memory {

struct HostSlot {
  uint64_t gpa;
  uint64_t size;
  uint8_t* host;
};

class GuestMemory {
 public:
  explicit GuestMemory(const Layout& layout);

  const Layout& layout() const { return layout_; }
  std::vector<HostSlot> slots() const;
  // Allocates all of guest RAM now (populate()), for a machine on one node
  // run with --preallocate; on several nodes the DSM engine allocates each
  // node's own share instead.
  void preallocate() const;

  // Host pointer to [gpa, gpa+len); throws std::out_of_range naming the
  // address when the range is not entirely inside one RAM range.
  uint8_t* host_address(uint64_t gpa, uint64_t len) const;

  void write(uint64_t gpa, std::span<const uint8_t> bytes) const;
  void read(uint64_t gpa, std::span<uint8_t> bytes) const;

  template <typename T>
  void write_object(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    std::memcpy(host_address(gpa, sizeof(T)), &value, sizeof(T));
  }
  template <typename T>
  T read_object(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, host_address(gpa, sizeof(T)), sizeof(T));
    return value;
  }

 private:
  Layout layout_;
  std::vector<Mapping> mappings_;  // parallel to layout_.ram()
};

}  // namespace amalgam::memory
