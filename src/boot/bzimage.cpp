#include "boot/bzimage.hpp"

#include <fmt/format.h>
#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "common/error.hpp"

namespace amalgam::boot {
namespace {

constexpr uint8_t kXzMagic[] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
constexpr uint8_t kGzipMagic[] = {0x1F, 0x8B};
constexpr size_t kSectorSize = 512;
constexpr size_t kChunk = 4 << 20;

template <typename T>
T read_le(std::span<const uint8_t> bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

bool starts_with(std::span<const uint8_t> bytes, std::span<const uint8_t> magic) {
  return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}

[[noreturn]] void fail(const std::string& name, const std::string& why) {
  throw UsageError(fmt::format("kernel {}: bzImage {}", name, why));
}

// Gives `step` fresh output room (a pointer and its size) until it returns
// false; `step` reports how much room it left unused. Stops at
// kMaxUnpackedKernel bytes; returns whether that limit was reached.
template <typename Step>
bool pump(std::vector<uint8_t>& out, Step step) {
  for (;;) {
    if (out.size() >= kMaxUnpackedKernel) return true;
    size_t used = out.size(), left = 0;
    out.resize(used + kChunk);
    bool more = step(out.data() + used, kChunk, left);
    out.resize(out.size() - left);
    if (!more) return false;
  }
}

std::vector<uint8_t> unxz(std::span<const uint8_t> in, const std::string& name) {
  lzma_stream s = LZMA_STREAM_INIT;
  // The kernel's build appends the unpacked size after the XZ stream: one
  // stream, and what follows it is not ours to decode.
  if (lzma_stream_decoder(&s, kMaxUnpackedKernel, 0) != LZMA_OK) fail(name, "payload: XZ decoder failed to start");
  std::vector<uint8_t> out;
  s.next_in = in.data();
  s.avail_in = in.size();
  lzma_ret ret = LZMA_OK;
  bool too_big = pump(out, [&](uint8_t* room, size_t size, size_t& left) {
    s.next_out = room;
    s.avail_out = size;
    ret = lzma_code(&s, LZMA_FINISH);
    left = s.avail_out;
    return ret == LZMA_OK;
  });
  lzma_end(&s);
  if (ret == LZMA_STREAM_END) return out;
  if (too_big) fail(name, fmt::format("payload unpacks to more than {} bytes", kMaxUnpackedKernel));
  if (ret == LZMA_BUF_ERROR) fail(name, "XZ payload is truncated");
  fail(name, fmt::format("XZ payload is corrupt (liblzma error {})", static_cast<int>(ret)));
}

std::vector<uint8_t> gunzip(std::span<const uint8_t> in, const std::string& name) {
  z_stream s{};
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) fail(name, "payload: zlib failed to start");
  std::vector<uint8_t> out;
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  int ret = Z_OK;
  bool too_big = pump(out, [&](uint8_t* room, size_t size, size_t& left) {
    s.next_out = room;
    s.avail_out = static_cast<uInt>(size);
    ret = inflate(&s, Z_NO_FLUSH);
    left = s.avail_out;
    // Z_BUF_ERROR with input left only means the output room ran out.
    if (ret == Z_BUF_ERROR && s.avail_in > 0) ret = Z_OK;
    return ret == Z_OK;
  });
  inflateEnd(&s);
  if (ret == Z_STREAM_END) return out;
  if (too_big) fail(name, fmt::format("payload unpacks to more than {} bytes", kMaxUnpackedKernel));
  if (ret == Z_BUF_ERROR) fail(name, "gzip payload is truncated");
  fail(name, fmt::format("gzip payload is corrupt (zlib error {})", ret));
}

}  // namespace

bool is_bzimage(std::span<const uint8_t> image) {
  return image.size() >= kSetupHeaderMagicOffset + 4 &&
         std::memcmp(image.data() + kSetupHeaderMagicOffset, "HdrS", 4) == 0;
}

std::vector<uint8_t> unpack_bzimage(std::span<const uint8_t> image, const std::string& name) {
  if (!is_bzimage(image)) fail(name, "setup header not found (no \"HdrS\" at 0x202)");
  if (image.size() < kPayloadLengthOffset + 4) fail(name, "is truncated inside its setup header");
  auto protocol = read_le<uint16_t>(image, kBootProtocolOffset);
  if (protocol < kMinPayloadProtocol)
    fail(name, fmt::format("boot protocol {}.{:02} names no payload (2.08 or later needed)", protocol >> 8,
                           protocol & 0xFF));
  uint64_t setup_sects = image[kSetupSectsOffset] ? image[kSetupSectsOffset] : 4;  // 0 means 4
  uint64_t pm_start = (setup_sects + 1) * kSectorSize;
  uint64_t offset = pm_start + read_le<uint32_t>(image, kPayloadOffsetOffset);
  uint64_t length = read_le<uint32_t>(image, kPayloadLengthOffset);
  if (offset > image.size() || length > image.size() - offset)
    fail(name, fmt::format("payload {:#x}+{:#x} is past the end of the file ({:#x} bytes): truncated", offset,
                           length, image.size()));
  auto payload = image.subspan(offset, length);
  if (starts_with(payload, kXzMagic)) return unxz(payload, name);
  if (starts_with(payload, kGzipMagic)) return gunzip(payload, name);
  fail(name, "payload is neither XZ nor gzip (other compressions are not unpacked; pass the vmlinux ELF)");
}

std::vector<uint8_t> kernel_elf(std::vector<uint8_t> file, const std::string& name) {
  if (is_bzimage(file)) return unpack_bzimage(file, name);
  return file;
}

}  // namespace amalgam::boot
