#include "boot/reset_vector.hpp"

#include "boot/acpi.hpp"

namespace amalgam::boot {

std::array<uint8_t, 16> reset_vector_stub() {
  std::array<uint8_t, 16> code{};
  const uint8_t stub[] = {
      0xBA, static_cast<uint8_t>(kAcpiResetPort), static_cast<uint8_t>(kAcpiResetPort >> 8),  // mov dx, port
      0xB0, kAcpiResetValue,                                                                    // mov al, value
      0xEE,                                                                                     // out dx, al
      0xF4,                                                                                     // hlt
      0xEB, 0xFD,                                                                               // jmp back to hlt
  };
  static_assert(sizeof stub <= 16);
  for (size_t i = 0; i < sizeof stub; ++i) code[i] = stub[i];
  return code;
}

}  // namespace amalgam::boot
