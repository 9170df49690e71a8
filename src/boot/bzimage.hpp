// bzImage unpacking (Linux x86 boot protocol, Documentation/x86/boot.rst):
// the setup header names the compressed payload (payload_offset at 0x248 and
// payload_length at 0x24c, protocol 2.08 and later), which is the ELF
// vmlinux. Unpacking it on the host gives an ELF with a PVH entry note that
// load_pvh_elf() boots, and saves the guest decompressing itself (slow where
// ring 0 is emulated). XZ (Debian's kernels) and gzip payloads are unpacked.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace amalgam::boot {

inline constexpr size_t kSetupHeaderMagicOffset = 0x202;  // "HdrS"
inline constexpr size_t kSetupSectsOffset = 0x1F1, kBootProtocolOffset = 0x206;
inline constexpr size_t kPayloadOffsetOffset = 0x248, kPayloadLengthOffset = 0x24C;
inline constexpr uint16_t kMinPayloadProtocol = 0x208;
// The largest vmlinux we unpack: far above any real kernel (Debian's is ~60 MB).
inline constexpr uint64_t kMaxUnpackedKernel = 1ull << 30;

// True when the image carries the boot protocol's "HdrS" magic.
bool is_bzimage(std::span<const uint8_t> image);

// The bzImage's payload, decompressed: an ELF vmlinux. Throws UsageError
// naming the kernel ("kernel NAME: bzImage ...") when the header is too old
// or points outside the file, or the payload is neither XZ nor gzip, is
// corrupt or truncated, or unpacks to something larger than
// kMaxUnpackedKernel.
std::vector<uint8_t> unpack_bzimage(std::span<const uint8_t> image, const std::string& name);

// The kernel a --kernel file gives: a bzImage unpacked, anything else as it is
// (load_pvh_elf() says what is wrong with it).
std::vector<uint8_t> kernel_elf(std::vector<uint8_t> file, const std::string& name);

}  // namespace amalgam::boot
