#include <gtest/gtest.h>

#include <cstring>

#include "vcpu/boot_state.hpp"
#include "vcpu/cpuid_profile.hpp"

using namespace amalgam::vcpu;

namespace {
kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index = 0) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  return e;
}
const kvm_cpuid_entry2* find(const std::vector<kvm_cpuid_entry2>& v, uint32_t function) {
  for (const auto& e : v)
    if (e.function == function) return &e;
  return nullptr;
}
}  // namespace

TEST(Cpuid, SetsApicIdHidesX2apicAddsTscDeadlineAndTimingLeaf) {
  auto l1 = leaf(1);
  l1.ecx = (1u << 21) | (1u << 13);
  l1.ebx = 0xFF00'1234;
  auto kvm_sig = leaf(0x4000'0000);
  auto out = make_cpuid({l1, leaf(0xB, 0), kvm_sig, leaf(0x4000'0001)}, {5, 8, 2'000'000, 1'000'000});
  const auto* f1 = find(out, 1);
  ASSERT_TRUE(f1);
  EXPECT_EQ(f1->ebx >> 24, 5u);
  EXPECT_EQ((f1->ebx >> 16) & 0xFF, 8u);
  EXPECT_EQ(f1->ebx & 0xFFFF, 0x1234u);
  EXPECT_FALSE(f1->ecx & (1u << 21));
  EXPECT_TRUE(f1->ecx & (1u << 24));
  EXPECT_TRUE(f1->ecx & (1u << 13));  // cx16 kept on the host model
  EXPECT_EQ(find(out, 0xB)->edx, 5u);
  EXPECT_EQ(find(out, 0x4000'0001), nullptr);  // KVM's own PV features are gone
  const auto* hv = find(out, kHypervisorLeaf);
  ASSERT_TRUE(hv);
  EXPECT_EQ(hv->eax, kTimingLeaf);
  char sig[13] = {};
  std::memcpy(sig, &hv->ebx, 4);
  std::memcpy(sig + 4, &hv->ecx, 4);
  std::memcpy(sig + 8, &hv->edx, 4);
  EXPECT_STREQ(sig, "AmalgamAmlgm");
  EXPECT_EQ(find(out, kTimingLeaf)->eax, 2'000'000u);
  EXPECT_EQ(find(out, kTimingLeaf)->ebx, 1'000'000u);
}

TEST(Cpuid, BaselineHidesWhatTheRing0EmulatorRejects) {
  auto l1 = leaf(1);
  l1.ecx = (1u << 13) | (1u << 26) | (1u << 28);
  CpuidParams p{0, 1, 1, 1};
  p.baseline = true;
  auto out = make_cpuid({l1, leaf(0xD)}, p);
  EXPECT_EQ(find(out, 1)->ecx & ((1u << 13) | (1u << 26) | (1u << 28)), 0u);
  EXPECT_EQ(find(out, 0xD), nullptr);
}

TEST(BootState, PvhEntryIsFlatProtectedModeWithStartInfoInEbx) {
  kvm_sregs s{};
  kvm_regs r{};
  set_pvh_entry_state(s, r, 0x100000, 0x6000);
  EXPECT_EQ(r.rip, 0x100000u);
  EXPECT_EQ(r.rbx, 0x6000u);
  EXPECT_EQ(s.cr0 & 1, 1u);
  EXPECT_EQ(s.cr0 & 0x8000'0000, 0u);  // paging off
  EXPECT_EQ(s.cs.base, 0u);
  EXPECT_EQ(s.cs.limit, 0xFFFF'FFFFu);
  EXPECT_EQ(s.cs.db, 1);
  EXPECT_EQ(s.ds.type & 0x2, 0x2);  // writable data
  EXPECT_EQ(s.tr.type, 0xB);
}

TEST(BootState, StartupIpiVectorSelectsTheRealModePage) {
  kvm_sregs s{};
  kvm_regs r{};
  r.rip = 0xFFF0;
  set_startup_state(s, r, 0x9A);
  EXPECT_EQ(s.cs.selector, 0x9A00);
  EXPECT_EQ(s.cs.base, 0x9A000u);
  EXPECT_EQ(r.rip, 0u);
}
