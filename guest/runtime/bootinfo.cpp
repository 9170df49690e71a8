// What the VMM hands over in struct hvm_start_info: the command line, the
// memory map and the RSDP. Copied into the image at boot, before anything
// may overwrite low memory. Also maps RAM above 4 GiB.
#include "internal.hpp"

extern "C" uint32_t rt_start_info_paddr;
extern "C" uint64_t rt_pdpt[512];
extern "C" char __image_end[];

namespace rt {
namespace {

constexpr size_t kCmdlineMax = 1024;
constexpr unsigned kMemmapMax = 128;
constexpr uint64_t k2MiB = 2ull << 20;
constexpr uint64_t k1GiB = 1ull << 30;
constexpr uint64_t k4GiB = 4ull << 30;
constexpr uint64_t kMappedLimit = 64ull << 30;  // what the runtime maps
constexpr unsigned kHighPds = unsigned((kMappedLimit - k4GiB) / k1GiB);
constexpr uint64_t kPteUser = 0x7;  // present, writable, user
constexpr uint64_t kPteAccessed = 0x20, kPteDirty = 0x40;  // set from the start, as in boot.S
constexpr uint64_t kPteLarge = 0x80;

char g_cmdline[kCmdlineMax];
RamRange g_free[kMemmapMax];
unsigned g_nfree;
uint64_t g_ram_total;
alignas(4096) uint64_t g_high_pd[kHighPds][512];

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// Identity-maps [base, end) above 4 GiB with 2 MiB pages; returns whether a
// page-directory entry was added.
bool map_high(uint64_t base, uint64_t end) {
  bool added = false;
  if (base < k4GiB) base = k4GiB;
  if (end > kMappedLimit) end = kMappedLimit;
  for (uint64_t page = base & ~(k2MiB - 1); page < end; page += k2MiB) {
    unsigned slot = unsigned(page / k1GiB);
    uint64_t* pd = g_high_pd[slot - 4];
    if (!rt_pdpt[slot]) rt_pdpt[slot] = uintptr_t(pd) | kPteUser | kPteAccessed;
    uint64_t& entry = pd[(page / k2MiB) % 512];
    if (!entry) {
      entry = page | kPteUser | kPteAccessed | kPteDirty | kPteLarge;
      added = true;
    }
  }
  return added;
}

void read_memmap(const internal::StartInfo& si) {
  if (si.version < 1 || !si.memmap_paddr || !si.memmap_entries) fail("start info has no memory map (version %u)", si.version);
  auto* map = reinterpret_cast<const internal::MemmapEntry*>(uintptr_t(si.memmap_paddr));
  unsigned n = si.memmap_entries < kMemmapMax ? si.memmap_entries : kMemmapMax;
  uint64_t floor = (uintptr_t(__image_end) + 4095) & ~uint64_t(4095);
  bool remap = false;
  for (unsigned i = 0; i < n; ++i) {
    if (map[i].type != internal::kMemmapRam) continue;
    uint64_t base = map[i].addr, end = map[i].addr + map[i].size;
    g_ram_total += map[i].size;
    remap |= map_high(base, end);
    if (base < floor) base = floor;
    if (end > kMappedLimit) end = kMappedLimit;
    base = (base + 4095) & ~uint64_t(4095);
    end &= ~uint64_t(4095);
    if (base >= end) continue;
    // Insert sorted by base.
    unsigned j = g_nfree++;
    for (; j && g_free[j - 1].base > base; --j) g_free[j] = g_free[j - 1];
    g_free[j] = {base, end - base};
  }
  if (remap) internal::syscall(SYS_FLUSH_TLB);
}

}  // namespace

uint64_t param(const char* key, uint64_t fallback) {
  size_t klen = strlen(key);
  for (const char* p = g_cmdline; *p;) {
    while (is_space(*p)) ++p;
    const char* word = p;
    while (*p && !is_space(*p)) ++p;
    if (size_t(p - word) <= klen || memcmp(word, key, klen) || word[klen] != '=') continue;
    const char* v = word + klen + 1;
    unsigned base = 10;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
      base = 16;
      v += 2;
    }
    uint64_t value = 0;
    if (v == p) fail("parameter %s has no value", key);
    for (; v < p; ++v) {
      unsigned d;
      if (*v >= '0' && *v <= '9') d = unsigned(*v - '0');
      else if (base == 16 && (*v | 0x20) >= 'a' && (*v | 0x20) <= 'f') d = unsigned((*v | 0x20) - 'a' + 10);
      else fail("parameter %s: bad number", key);
      value = value * base + d;
    }
    return value;
  }
  return fallback;
}

unsigned free_ram(const RamRange** ranges) {
  *ranges = g_free;
  return g_nfree;
}

uintptr_t image_end() { return uintptr_t(__image_end); }

namespace internal {

uint64_t ram_total() { return g_ram_total; }

uint64_t read_start_info() {
  auto* si = reinterpret_cast<const StartInfo*>(uintptr_t(rt_start_info_paddr));
  if (!si || si->magic != kStartInfoMagic) fail("no PVH start info at %#x", rt_start_info_paddr);
  if (si->cmdline_paddr) {
    auto* cmdline = reinterpret_cast<const char*>(uintptr_t(si->cmdline_paddr));
    size_t i = 0;
    for (; i + 1 < kCmdlineMax && cmdline[i]; ++i) g_cmdline[i] = cmdline[i];
    g_cmdline[i] = '\0';
  }
  read_memmap(*si);
  return si->rsdp_paddr;
}

}  // namespace internal
}  // namespace rt
