#include "boot/pvh_loader.hpp"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "boot/start_info.hpp"
#include "common/error.hpp"
#include "memory/e820.hpp"

namespace amalgam::boot {
namespace {

// Guest memory the VMM itself fills below 1 MiB: a kernel segment there would
// be overwritten (or overwrite it).
struct ReservedRange {
  uint64_t start, end;
};
constexpr ReservedRange kBootData[] = {
    {kStartInfoAddr, kCmdlineAddr + kMaxCmdlineLength + 1},
    {memory::kLowRamEnd, memory::kOneMiB},  // EBDA, ROM area and the ACPI tables
};

// The kernel file, with reads that are checked against its size.
class Image {
 public:
  Image(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw UsageError(fmt::format("kernel {}: {}", name_, why));
  }
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  std::span<const uint8_t> slice(uint64_t offset, uint64_t length, const char* what) const {
    if (!contains(offset, length)) fail(fmt::format("truncated {}", what));
    return bytes_.subspan(offset, length);
  }
  template <typename T>
  T read(uint64_t offset, const char* what) const {
    T value;
    std::memcpy(&value, slice(offset, sizeof(T), what).data(), sizeof(T));
    return value;
  }
  // Entry i of a table of `count` entries of `entsize` bytes at `offset`, all
  // of it checked first; entries may be larger than T (newer ELF versions).
  template <typename T>
  std::vector<T> table(uint64_t offset, uint64_t count, uint64_t entsize, const char* what) const {
    if (count == 0) return {};
    if (entsize < sizeof(T) || count > bytes_.size() / entsize) fail(fmt::format("truncated {}", what));
    slice(offset, count * entsize, what);
    std::vector<T> out;
    for (uint64_t i = 0; i < count; ++i) out.push_back(read<T>(offset + i * entsize, what));
    return out;
  }
  size_t size() const { return bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& name_;
};

Elf64_Ehdr read_elf_header(const Image& image) {
  if (image.size() == 0) image.fail("not an ELF file (it is empty)");
  if (image.size() < SELFMAG || std::memcmp(image.slice(0, SELFMAG, "").data(), ELFMAG, SELFMAG) != 0)
    image.fail("not an ELF file");
  auto ident = image.slice(0, EI_NIDENT, "ELF header");
  if (ident[EI_CLASS] == ELFCLASS32) image.fail("32-bit ELF; a 64-bit x86-64 PVH kernel (vmlinux) is needed");
  if (ident[EI_CLASS] != ELFCLASS64) image.fail(fmt::format("unknown ELF class {}", ident[EI_CLASS]));
  if (ident[EI_DATA] != ELFDATA2LSB) image.fail("big-endian ELF; an x86-64 kernel is needed");
  auto ehdr = image.read<Elf64_Ehdr>(0, "ELF header");
  if (ehdr.e_machine != EM_X86_64) image.fail(fmt::format("ELF machine {} is not x86-64", ehdr.e_machine));
  if (ehdr.e_type != ET_EXEC && ehdr.e_type != ET_DYN)
    image.fail(fmt::format("ELF type {} is not an executable", ehdr.e_type));
  return ehdr;
}

void check_segment(const Image& image, const memory::Layout& layout, const Elf64_Phdr& ph) {
  if (!image.contains(ph.p_offset, ph.p_filesz))
    image.fail(fmt::format("segment at file offset {:#x}+{:#x} is past the end of the file",
                           ph.p_offset, ph.p_filesz));
  auto where = fmt::format("segment {:#x}+{:#x}", ph.p_paddr, ph.p_memsz);
  if (ph.p_filesz > ph.p_memsz) image.fail(where + " has more bytes in the file than in memory");
  if (!layout.is_ram(ph.p_paddr, ph.p_memsz)) image.fail(where + " is outside guest RAM");
  for (const auto& r : kBootData)
    if (ph.p_paddr < r.end && r.start < ph.p_paddr + ph.p_memsz)
      image.fail(fmt::format("{} overlaps boot data at {:#x}-{:#x}", where, r.start, r.end - 1));
}

// Notes (gABI "Note Section"): namesz, descsz, type, then name and desc,
// each padded to 4 bytes (as Linux, Xen and QEMU lay them out on x86-64).
std::optional<std::span<const uint8_t>> find_xen_note(const Image& image, uint64_t offset,
                                                      uint64_t size) {
  auto notes = image.slice(offset, size, "note");
  auto pad4 = [](uint64_t n) { return (n + 3) & ~uint64_t{3}; };
  uint64_t pos = 0;
  while (notes.size() - pos >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr nh;
    std::memcpy(&nh, notes.data() + pos, sizeof nh);
    pos += sizeof nh;
    if (pad4(nh.n_namesz) > notes.size() - pos) image.fail("truncated note");
    std::string_view note_name(reinterpret_cast<const char*>(notes.data() + pos), nh.n_namesz);
    pos += pad4(nh.n_namesz);
    if (nh.n_descsz > notes.size() - pos) image.fail("truncated note");
    auto desc = notes.subspan(pos, nh.n_descsz);
    pos = std::min<uint64_t>(notes.size(), pos + pad4(nh.n_descsz));
    if (note_name == std::string_view("Xen\0", 4) && nh.n_type == kXenElfNotePhys32Entry) return desc;
  }
  return std::nullopt;
}

std::optional<std::span<const uint8_t>> find_pvh_note(const Image& image, const Elf64_Ehdr& ehdr,
                                                      const std::vector<Elf64_Phdr>& phdrs) {
  for (const auto& ph : phdrs)
    if (ph.p_type == PT_NOTE)
      if (auto desc = find_xen_note(image, ph.p_offset, ph.p_filesz)) return desc;
  // Some linkers leave the note out of PT_NOTE; the section table may have it.
  auto shdrs = image.table<Elf64_Shdr>(ehdr.e_shoff, ehdr.e_shnum, ehdr.e_shentsize, "section header");
  for (const auto& sh : shdrs)
    if (sh.sh_type == SHT_NOTE)
      if (auto desc = find_xen_note(image, sh.sh_offset, sh.sh_size)) return desc;
  return std::nullopt;
}

uint64_t pvh_entry(const Image& image, const memory::Layout& layout, std::span<const uint8_t> desc) {
  uint64_t entry = 0;
  if (desc.size() == 4) {
    uint32_t v;
    std::memcpy(&v, desc.data(), 4);
    entry = v;
  } else if (desc.size() == 8) {
    std::memcpy(&entry, desc.data(), 8);
  } else {
    image.fail(fmt::format("PVH entry note has a {}-byte value (4 or 8 expected)", desc.size()));
  }
  // The entry runs in 32-bit protected mode without paging.
  if (entry > 0xFFFF'FFFF || !layout.is_ram(entry, 1))
    image.fail(fmt::format("PVH entry {:#x} is outside guest RAM below 4 GiB", entry));
  return entry;
}

}  // namespace

LoadedKernel load_pvh_elf(const memory::GuestMemory& mem, std::span<const uint8_t> bytes,
                          const std::string& name) {
  const Image image(bytes, name);
  const auto ehdr = read_elf_header(image);
  const auto phdrs = image.table<Elf64_Phdr>(ehdr.e_phoff, ehdr.e_phnum, ehdr.e_phentsize, "program header");

  std::vector<Elf64_Phdr> loads;
  for (const auto& ph : phdrs) {
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    check_segment(image, mem.layout(), ph);
    loads.push_back(ph);
  }
  if (loads.empty()) image.fail("no loadable segments");
  auto desc = find_pvh_note(image, ehdr, phdrs);
  if (!desc) image.fail("no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");

  LoadedKernel k{pvh_entry(image, mem.layout(), *desc), UINT64_MAX, 0};
  for (const auto& ph : loads) {
    mem.write(ph.p_paddr, image.slice(ph.p_offset, ph.p_filesz, "segment"));
    if (ph.p_memsz > ph.p_filesz)  // .bss and the like
      std::memset(mem.host_address(ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz), 0,
                  ph.p_memsz - ph.p_filesz);
    k.load_start = std::min(k.load_start, ph.p_paddr);
    k.load_end = std::max(k.load_end, ph.p_paddr + ph.p_memsz);
  }
  return k;
}

}  // namespace amalgam::boot
