#include <gtest/gtest.h>

#include "boot/pvh_loader.hpp"
#include "common/error.hpp"
#include "elf_image.hpp"
#include "memory/guest_memory.hpp"

using namespace amalgam;
using namespace amalgam::boot;
using test::ElfLayout;
using test::ElfSpec;
using test::make_elf;
using test::poke;

namespace {

constexpr size_t kPhdrOffset = offsetof(Elf64_Phdr, p_offset);
constexpr size_t kPhdrPaddr = offsetof(Elf64_Phdr, p_paddr);
constexpr size_t kPhdrFilesz = offsetof(Elf64_Phdr, p_filesz);
constexpr size_t kPhdrMemsz = offsetof(Elf64_Phdr, p_memsz);

class PvhLoader : public ::testing::Test {
 protected:
  memory::GuestMemory mem{memory::Layout(256ull << 20)};

  // The load must fail with a UsageError "kernel vmlinux: <needle>...".
  void expect_error(const std::vector<uint8_t>& image, const std::string& needle) {
    try {
      load_pvh_elf(mem, image, "vmlinux");
      ADD_FAILURE() << "loaded; expected: " << needle;
    } catch (const UsageError& e) {
      std::string what = e.what();
      EXPECT_EQ(what.rfind("kernel vmlinux: ", 0), 0u) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  }
};

}  // namespace

TEST_F(PvhLoader, LoadsSegmentsAndFindsTheEntry) {
  ElfSpec spec;
  // Stale bytes where the .bss goes, to see them cleared.
  std::vector<uint8_t> junk(spec.bss, 0xAA);
  mem.write(spec.paddr + spec.code.size(), junk);

  auto k = load_pvh_elf(mem, make_elf(spec), "vmlinux");
  EXPECT_EQ(k.pvh_entry, 0x100000u);
  EXPECT_EQ(k.load_start, spec.paddr);
  EXPECT_EQ(k.load_end, spec.paddr + spec.code.size() + spec.bss);
  std::vector<uint8_t> code(spec.code.size());
  mem.read(spec.paddr, code);
  EXPECT_EQ(code, spec.code);
  std::vector<uint8_t> bss(spec.bss);
  mem.read(spec.paddr + spec.code.size(), bss);
  EXPECT_EQ(bss, std::vector<uint8_t>(spec.bss, 0));
}

TEST_F(PvhLoader, EightByteEntryAndSectionNotesWork) {
  ElfSpec spec;
  spec.entry = 0x100001;
  spec.entry_size = 8;
  EXPECT_EQ(load_pvh_elf(mem, make_elf(spec), "k").pvh_entry, 0x100001u);
  spec.note_in_section = true;
  spec.other_note_first = false;
  EXPECT_EQ(load_pvh_elf(mem, make_elf(spec), "k").pvh_entry, 0x100001u);
}

TEST_F(PvhLoader, RejectsWhatIsNotAnX86_64Elf) {
  expect_error({}, "not an ELF file");
  std::string text = "#!/bin/sh\necho hi\n";
  expect_error(std::vector<uint8_t>(text.begin(), text.end()), "not an ELF file");
  auto image = make_elf();
  image[EI_CLASS] = ELFCLASS32;
  expect_error(image, "32-bit ELF");
  image = make_elf();
  image[EI_DATA] = ELFDATA2MSB;
  expect_error(image, "big-endian");
  image = make_elf();
  poke<uint16_t>(image, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
  expect_error(image, "not x86-64");
  image.resize(40);
  expect_error(image, "truncated ELF header");
}

TEST_F(PvhLoader, RejectsTruncatedProgramHeaders) {
  auto image = make_elf();
  image.resize(ElfLayout::kPhoff + 30);
  expect_error(image, "truncated program header");
  image = make_elf();
  poke<uint16_t>(image, offsetof(Elf64_Ehdr, e_phnum), 0xFFFF);
  expect_error(image, "truncated program header");
  image = make_elf();
  poke<uint64_t>(image, offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 8);
  expect_error(image, "truncated program header");
  image = make_elf();
  poke<uint16_t>(image, offsetof(Elf64_Ehdr, e_phentsize), 8);
  expect_error(image, "truncated program header");
}

TEST_F(PvhLoader, RejectsSegmentsBeyondTheFile) {
  auto image = make_elf();
  poke<uint64_t>(image, ElfLayout::kLoad + kPhdrFilesz, image.size());
  poke<uint64_t>(image, ElfLayout::kLoad + kPhdrMemsz, image.size());
  expect_error(image, "past the end of the file");
  image = make_elf();
  poke<uint64_t>(image, ElfLayout::kLoad + kPhdrOffset, UINT64_MAX - 1);  // offset + size wraps
  expect_error(image, "past the end of the file");
  image = make_elf();
  poke<uint64_t>(image, ElfLayout::kLoad + kPhdrMemsz, 1);  // filesz 3 > memsz 1
  expect_error(image, "more bytes in the file than in memory");
}

TEST_F(PvhLoader, RejectsSegmentsOutsideGuestRam) {
  auto image = make_elf({.paddr = 256ull << 20});  // just past the end of RAM
  expect_error(image, "segment 0x10000000+0x2003 is outside guest RAM");
  image = make_elf({.paddr = (256ull << 20) - 0x1000});  // runs off the end
  expect_error(image, "is outside guest RAM");
  image = make_elf();
  poke<uint64_t>(image, ElfLayout::kLoad + kPhdrPaddr, UINT64_MAX - 1);  // paddr + memsz wraps
  expect_error(image, "is outside guest RAM");
  image = make_elf({.paddr = 0x6800});  // over the start info
  expect_error(image, "overlaps boot data");
  image = make_elf({.paddr = 0xF0000});  // over the ACPI tables
  expect_error(image, "overlaps boot data");
}

TEST_F(PvhLoader, RejectsMissingOrBadEntryNotes) {
  expect_error(make_elf({.entry = std::nullopt}), "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
  expect_error(make_elf({.entry_size = 2}), "2-byte value");
  expect_error(make_elf({.entry = 0xC000'0000}), "PVH entry 0xc0000000 is outside guest RAM");
  expect_error(make_elf({.entry = 0x1'0000'1000, .entry_size = 8}), "outside guest RAM");
  auto image = make_elf();
  poke<uint32_t>(image, ElfLayout::kNotes, 0x7FFF'FFFF);  // first note's namesz
  expect_error(image, "truncated note");
  image = make_elf();
  poke<uint64_t>(image, ElfLayout::kNote + kPhdrFilesz, image.size());
  expect_error(image, "truncated note");
}

TEST_F(PvhLoader, WritesNothingWhenTheImageIsBad) {
  std::vector<uint8_t> marker(16, 0x5A);
  mem.write(0x100000, marker);
  expect_error(make_elf({.entry = std::nullopt}), "no PVH entry note");
  std::vector<uint8_t> back(16);
  mem.read(0x100000, back);
  EXPECT_EQ(back, marker);
}
