// bzImage unpacking: synthetic bzImages built here (a setup header and an
// ELF compressed with liblzma or zlib at test time).
#include "boot/bzimage.hpp"

#include <gtest/gtest.h>
#include <lzma.h>
#include <zlib.h>

#include <cstring>

#include "common/error.hpp"
#include "elf_image.hpp"

namespace amalgam::boot {
namespace {

std::vector<uint8_t> xz(const std::vector<uint8_t>& in) {
  std::vector<uint8_t> out(lzma_stream_buffer_bound(in.size()));
  size_t pos = 0;
  EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr, in.data(), in.size(), out.data(), &pos,
                                    out.size()),
            LZMA_OK);
  out.resize(pos);
  return out;
}

std::vector<uint8_t> gzip(const std::vector<uint8_t>& in) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(deflateBound(&s, in.size()) + 32);
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

struct BzSpec {
  uint8_t setup_sects = 3;
  uint16_t protocol = 0x020F;
  uint32_t payload_offset = 0x40;  // from the start of the protected-mode code
  int64_t length_adjust = 0;       // added to payload_length in the header
};

// Setup sectors, the header, then the payload as the kernel's build lays it
// out: the compressed stream followed by the unpacked size (4 bytes).
std::vector<uint8_t> make_bzimage(const std::vector<uint8_t>& compressed, uint32_t unpacked_size,
                                  const BzSpec& spec = {}) {
  std::vector<uint8_t> payload = compressed;
  for (int i = 0; i < 4; ++i) payload.push_back(static_cast<uint8_t>(unpacked_size >> (8 * i)));
  size_t pm_start = (spec.setup_sects + 1) * 512u;
  std::vector<uint8_t> image(pm_start + spec.payload_offset, 0xCC);
  image.insert(image.end(), payload.begin(), payload.end());
  image[0x1F1] = spec.setup_sects;
  std::memcpy(&image[0x202], "HdrS", 4);
  std::memcpy(&image[0x206], &spec.protocol, 2);
  std::memcpy(&image[0x248], &spec.payload_offset, 4);
  uint32_t length = static_cast<uint32_t>(static_cast<int64_t>(payload.size()) + spec.length_adjust);
  std::memcpy(&image[0x24C], &length, 4);
  return image;
}

std::vector<uint8_t> big_elf() {
  test::ElfSpec s;
  s.code.assign(200'000, 0x90);  // compressible, and larger than one output chunk of zlib's window
  return test::make_elf(s);
}

TEST(BzImage, UnpacksAnXzPayloadToTheElf) {
  auto elf = big_elf();
  auto image = make_bzimage(xz(elf), static_cast<uint32_t>(elf.size()));
  ASSERT_TRUE(is_bzimage(image));
  EXPECT_EQ(unpack_bzimage(image, "bz"), elf);
  EXPECT_EQ(kernel_elf(image, "bz"), elf);
}

TEST(BzImage, UnpacksAGzipPayload) {
  auto elf = big_elf();
  EXPECT_EQ(unpack_bzimage(make_bzimage(gzip(elf), static_cast<uint32_t>(elf.size())), "bz"), elf);
}

TEST(BzImage, SetupSectsZeroMeansFour) {
  auto elf = test::make_elf();
  BzSpec spec;
  spec.setup_sects = 4;
  auto image = make_bzimage(xz(elf), static_cast<uint32_t>(elf.size()), spec);
  image[0x1F1] = 0;  // old kernels: 0 stands for 4
  EXPECT_EQ(unpack_bzimage(image, "bz"), elf);
}

TEST(BzImage, AnElfPassesThroughUnchanged) {
  auto elf = test::make_elf();
  EXPECT_FALSE(is_bzimage(elf));
  EXPECT_EQ(kernel_elf(elf, "vmlinux"), elf);
}

void expect_usage_error(const std::vector<uint8_t>& image, const std::string& part) {
  try {
    unpack_bzimage(image, "bz");
    FAIL() << "no error; expected one with: " << part;
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
  }
}

TEST(BzImage, RejectsATruncatedXzPayload) {
  auto elf = big_elf();
  auto packed = xz(elf);
  packed.resize(packed.size() / 2);
  BzSpec spec;
  spec.length_adjust = 0;
  expect_usage_error(make_bzimage(packed, static_cast<uint32_t>(elf.size()), spec), "XZ payload is truncated");
}

TEST(BzImage, RejectsACorruptXzPayload) {
  auto elf = big_elf();
  auto packed = xz(elf);
  for (size_t i = 40; i < 60; ++i) packed[i] ^= 0x5A;
  expect_usage_error(make_bzimage(packed, static_cast<uint32_t>(elf.size())), "XZ payload is corrupt");
}

TEST(BzImage, RejectsATruncatedOrCorruptGzipPayload) {
  auto elf = big_elf();
  auto packed = gzip(elf);
  auto cut = packed;
  cut.resize(cut.size() / 2);
  expect_usage_error(make_bzimage(cut, 0), "gzip payload is truncated");
  for (size_t i = 20; i < 40; ++i) packed[i] ^= 0x5A;
  expect_usage_error(make_bzimage(packed, 0), "gzip payload is corrupt");
}

TEST(BzImage, RejectsAPayloadPastTheEndOfTheFile) {
  auto elf = test::make_elf();
  BzSpec spec;
  spec.length_adjust = 100;
  expect_usage_error(make_bzimage(xz(elf), 0, spec), "past the end of the file");
  auto image = make_bzimage(xz(elf), 0);
  image.resize(image.size() - 10);  // the file itself cut short
  expect_usage_error(image, "past the end of the file");
}

TEST(BzImage, RejectsOldProtocolsAndUnknownCompression) {
  BzSpec old;
  old.protocol = 0x0207;
  expect_usage_error(make_bzimage(xz(test::make_elf()), 0, old), "boot protocol 2.07 names no payload");
  std::vector<uint8_t> lz4 = {0x02, 0x21, 0x4C, 0x18, 1, 2, 3, 4};
  expect_usage_error(make_bzimage(lz4, 0), "neither XZ nor gzip");
  std::vector<uint8_t> header_only(0x210, 0);
  std::memcpy(&header_only[0x202], "HdrS", 4);
  expect_usage_error(header_only, "truncated inside its setup header");
}

}  // namespace
}  // namespace amalgam::boot
