// Test helper: hand-built minimal ELF64 PVH kernels.
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace amalgam::boot::test {

struct ElfSpec {
  uint64_t paddr = 0x100000;
  std::vector<uint8_t> code = {0xF4, 0xEB, 0xFD};  // hlt; jmp .-1
  uint64_t bss = 0x2000;                           // memsz - filesz
  std::optional<uint64_t> entry = 0x100000;        // no note when empty
  uint32_t entry_size = 4;
  bool note_in_section = false;  // SHT_NOTE section instead of PT_NOTE
  bool other_note_first = true;  // a GNU note before the Xen one
};

// Offsets of the pieces, for tests that corrupt them.
struct ElfLayout {
  static constexpr size_t kPhoff = sizeof(Elf64_Ehdr);
  static constexpr size_t kLoad = kPhoff;                       // phdr 0: PT_LOAD
  static constexpr size_t kNote = kPhoff + sizeof(Elf64_Phdr);  // phdr 1: PT_NOTE
  static constexpr size_t kNotes = kPhoff + 2 * sizeof(Elf64_Phdr);
};

inline void append_note(std::vector<uint8_t>& out, const char* name, uint32_t type, const void* desc,
                        uint32_t descsz) {
  Elf64_Nhdr nh{static_cast<Elf64_Word>(std::strlen(name) + 1), descsz, type};
  auto put = [&](const void* p, size_t n) {
    auto b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
    out.resize((out.size() + 3) & ~size_t{3}, 0);
  };
  put(&nh, sizeof nh);
  put(name, nh.n_namesz);
  put(desc, descsz);
}

inline std::vector<uint8_t> make_elf(const ElfSpec& s = {}) {
  std::vector<uint8_t> notes;
  if (s.other_note_first) {
    uint8_t build_id[20] = {1, 2, 3};
    append_note(notes, "GNU", NT_GNU_BUILD_ID, build_id, sizeof build_id);
  }
  if (s.entry) append_note(notes, "Xen", 18, &*s.entry, s.entry_size);

  const size_t notes_off = ElfLayout::kNotes;
  const size_t code_off = (notes_off + notes.size() + 15) & ~size_t{15};
  const size_t shdr_off = (code_off + s.code.size() + 7) & ~size_t{7};

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_entry = 0xffffffff81000000;  // the 64-bit entry, not used for PVH
  eh.e_phoff = ElfLayout::kPhoff;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = s.note_in_section ? 1 : 2;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  if (s.note_in_section) {
    eh.e_shoff = shdr_off;
    eh.e_shnum = 2;  // the null section and the note
  }

  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_flags = PF_R | PF_X;
  load.p_offset = code_off;
  load.p_vaddr = 0xffffffff80000000 + s.paddr;
  load.p_paddr = s.paddr;
  load.p_filesz = s.code.size();
  load.p_memsz = s.code.size() + s.bss;
  load.p_align = 16;
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = notes_off;
  note.p_filesz = notes.size();
  note.p_align = 4;

  std::vector<uint8_t> out(shdr_off + (s.note_in_section ? 2 * sizeof(Elf64_Shdr) : 0), 0);
  std::memcpy(out.data(), &eh, sizeof eh);
  std::memcpy(out.data() + ElfLayout::kLoad, &load, sizeof load);
  if (!s.note_in_section) std::memcpy(out.data() + ElfLayout::kNote, &note, sizeof note);
  std::memcpy(out.data() + notes_off, notes.data(), notes.size());
  std::memcpy(out.data() + code_off, s.code.data(), s.code.size());
  if (s.note_in_section) {
    Elf64_Shdr sh{};
    sh.sh_type = SHT_NOTE;
    sh.sh_offset = notes_off;
    sh.sh_size = notes.size();
    sh.sh_addralign = 4;
    std::memcpy(out.data() + shdr_off + sizeof(Elf64_Shdr), &sh, sizeof sh);
  }
  return out;
}

template <typename T>
void poke(std::vector<uint8_t>& image, size_t offset, T value) {
  std::memcpy(image.data() + offset, &value, sizeof value);
}

}  // namespace amalgam::boot::test
