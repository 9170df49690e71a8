// CPU discovery from ACPI (spec 6.x ch. 5.2): RSDP -> XSDT (RSDT when the
// RSDP is revision 0) -> MADT, Processor Local APIC entries (type 0) with the
// Enabled flag.
#include "internal.hpp"

namespace rt::internal {
namespace {

struct [[gnu::packed]] Rsdp {
  char signature[8];
  uint8_t checksum;
  char oem_id[6];
  uint8_t revision;
  uint32_t rsdt;
  uint32_t length;  // revision >= 2 from here on
  uint64_t xsdt;
  uint8_t extended_checksum;
  uint8_t reserved[3];
};

struct [[gnu::packed]] SdtHeader {
  char signature[4];
  uint32_t length;
  uint8_t revision;
  uint8_t checksum;
  char oem_id[6];
  char oem_table_id[8];
  uint32_t oem_revision;
  uint32_t creator_id;
  uint32_t creator_revision;
};

struct [[gnu::packed]] Madt {
  SdtHeader header;
  uint32_t lapic_address;
  uint32_t flags;
};

constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtLapicOverride = 5;
constexpr uint32_t kLapicEnabled = 1;

bool checksum_ok(const void* p, size_t len) {
  uint8_t sum = 0;
  for (size_t i = 0; i < len; ++i) sum = uint8_t(sum + static_cast<const uint8_t*>(p)[i]);
  return sum == 0;
}

const Rsdp* find_rsdp(uint64_t hint) {
  if (hint) {
    auto* r = reinterpret_cast<const Rsdp*>(uintptr_t(hint));
    if (!memcmp(r->signature, "RSD PTR ", 8) && checksum_ok(r, 20)) return r;
    fail("start info RSDP at %#lx is not valid", hint);
  }
  // No pointer in start info: the BIOS area, 16-byte aligned (ACPI 5.2.5.1).
  for (uintptr_t a = 0xE0000; a < 0x100000; a += 16) {
    auto* r = reinterpret_cast<const Rsdp*>(a);
    if (!memcmp(r->signature, "RSD PTR ", 8) && checksum_ok(r, 20)) return r;
  }
  return nullptr;
}

const SdtHeader* table(uint64_t paddr, const char* what) {
  auto* h = reinterpret_cast<const SdtHeader*>(uintptr_t(paddr));
  if (!paddr || !checksum_ok(h, h->length)) fail("ACPI %s at %#lx: bad checksum", what, paddr);
  return h;
}

// The first table with `signature` in the XSDT (RSDT), or nullptr.
const SdtHeader* find_table(const Rsdp* rsdp, const char* signature) {
  bool x = rsdp->revision >= 2 && rsdp->xsdt;
  const SdtHeader* root = table(x ? rsdp->xsdt : rsdp->rsdt, x ? "XSDT" : "RSDT");
  unsigned width = x ? 8 : 4;
  auto* entries = reinterpret_cast<const uint8_t*>(root + 1);
  unsigned n = (root->length - sizeof *root) / width;
  for (unsigned i = 0; i < n; ++i) {
    uint64_t paddr = 0;
    memcpy(&paddr, entries + i * width, width);
    auto* h = reinterpret_cast<const SdtHeader*>(uintptr_t(paddr));
    if (paddr && !memcmp(h->signature, signature, 4)) return table(paddr, signature);
  }
  return nullptr;
}

uint64_t g_rsdp_paddr;  // from start info, kept for acpi_table()

}  // namespace

unsigned read_madt(uint64_t rsdp_paddr, uint32_t* apic_ids, unsigned max) {
  g_rsdp_paddr = rsdp_paddr;
  const Rsdp* rsdp = find_rsdp(rsdp_paddr);
  if (!rsdp) fail("no ACPI RSDP");
  auto* madt = reinterpret_cast<const Madt*>(find_table(rsdp, "APIC"));
  if (!madt) fail("no MADT in the ACPI tables");
  if (madt->lapic_address != LAPIC_BASE) fail("MADT puts the LAPIC at %#x", madt->lapic_address);
  unsigned n = 0, skipped = 0;
  auto* p = reinterpret_cast<const uint8_t*>(madt + 1);
  auto* end = reinterpret_cast<const uint8_t*>(madt) + madt->header.length;
  while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
    if (p[0] == kMadtLocalApic && p[1] >= 8) {
      uint32_t flags;
      memcpy(&flags, p + 4, 4);
      if (flags & kLapicEnabled) {
        if (n < max) apic_ids[n++] = p[3];
        else ++skipped;
      }
    } else if (p[0] == kMadtLapicOverride && p[1] >= 12) {
      uint64_t address;
      memcpy(&address, p + 4, 8);
      if (address != LAPIC_BASE) fail("MADT overrides the LAPIC address to %#lx", address);
    }
    p += p[1];
  }
  if (skipped) printf("rt: %u more enabled CPUs in the MADT than the runtime supports (%u)\n", skipped, max);
  return n;
}

}  // namespace rt::internal

const void* rt::acpi_table(const char* signature) {
  using namespace internal;
  const Rsdp* rsdp = find_rsdp(g_rsdp_paddr);
  return rsdp ? find_table(rsdp, signature) : nullptr;
}
