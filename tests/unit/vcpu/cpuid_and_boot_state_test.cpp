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

TEST(Cpuid, SetsApicIdHidesX2apicAddsTscDeadlineKvmclockAndTimingLeaf) {
  auto l1 = leaf(1);
  l1.ecx = (1u << 21) | (1u << 13);
  l1.ebx = 0xFF00'1234;
  auto kvm_sig = leaf(0x4000'0000);
  auto kvm_features = leaf(0x4000'0001);
  kvm_features.eax = 0x01FF'FFFF;  // everything KVM offers, async PF and PV EOI included
  CpuidParams p{5, 8, 2'000'000, 1'000'000};
  p.package_shift = 3;
  p.package_vcpus = 8;
  auto out = make_cpuid({l1, leaf(0xB, 0), kvm_sig, kvm_features}, p);
  const auto* f1 = find(out, 1);
  ASSERT_TRUE(f1);
  EXPECT_EQ(f1->ebx >> 24, 5u);
  EXPECT_EQ((f1->ebx >> 16) & 0xFF, 8u);
  EXPECT_EQ(f1->ebx & 0xFFFF, 0x1234u);
  EXPECT_FALSE(f1->ecx & (1u << 21));
  EXPECT_TRUE(f1->ecx & (1u << 24));
  EXPECT_TRUE(f1->ecx & (1u << 13));  // cx16 kept on the host model
  EXPECT_EQ(find(out, 0xB), nullptr);  // leaf 0 says there is no leaf 0xB here
  // Of KVM's paravirtual features only kvmclock is left.
  ASSERT_TRUE(find(out, kKvmFeaturesLeaf));
  EXPECT_EQ(find(out, kKvmFeaturesLeaf)->eax, kKvmFeatureClocksource2 | kKvmFeatureClockStableBit);
  const auto* hv = find(out, kHypervisorLeaf);
  ASSERT_TRUE(hv);
  EXPECT_EQ(hv->eax, kTimingLeaf);
  char sig[13] = {};
  std::memcpy(sig, &hv->ebx, 4);
  std::memcpy(sig + 4, &hv->ecx, 4);
  std::memcpy(sig + 8, &hv->edx, 4);
  EXPECT_EQ(std::memcmp(sig, "KVMKVMKVM\0\0\0", 12), 0);
  EXPECT_EQ(find(out, kTimingLeaf)->eax, 2'000'000u);
  EXPECT_EQ(find(out, kTimingLeaf)->ebx, 1'000'000u);
}

// vCPU 9 = APIC ID 0x11: package 2 (shift 3), core 1 of 3 in the package.
TEST(Cpuid, TopologyLeavesDescribeOnePackagePerNumaNode) {
  auto l0 = leaf(0);
  l0.eax = 0x1F;
  auto l1 = leaf(1);
  l1.ebx = 0x0040'0800;
  auto l4_l1 = leaf(4, 0);
  l4_l1.eax = (1u << 5) | (63u << 26) | (1u << 14);  // L1, shared by 2 on the host
  auto l4_l3 = leaf(4, 3);
  l4_l3.eax = (3u << 5) | (63u << 26) | (15u << 14);  // L3, shared by 16 on the host
  auto amd_l3 = leaf(0x8000'001D, 3);
  amd_l3.eax = (3u << 5) | (15u << 14);
  auto ext = leaf(0x8000'0008);
  ext.ecx = 0x7007;  // host: 8 cores, 7 APIC ID bits
  CpuidParams p{0x11, 12, 1, 1};
  p.package_shift = 3;
  p.package_vcpus = 3;
  auto out = make_cpuid({l0, l1, l4_l1, l4_l3, amd_l3, ext, leaf(0x8000'001E), leaf(0x1F, 0)}, p);

  const auto* f1 = find(out, 1);
  EXPECT_EQ(f1->ebx >> 24, 0x11u);
  EXPECT_EQ((f1->ebx >> 16) & 0xFF, 8u);  // IDs per package
  EXPECT_TRUE(f1->edx & (1u << 28));      // HTT: more than one per package
  std::vector<kvm_cpuid_entry2> b, c;
  for (const auto& e : out) {
    if (e.function == 0xB) b.push_back(e);
    if (e.function == 0x1F) c.push_back(e);
  }
  ASSERT_EQ(b.size(), 3u);
  ASSERT_EQ(c.size(), 3u);  // 0x1F replaced alike where KVM had it
  EXPECT_EQ(b[0].eax, 0u);  // no SMT bits
  EXPECT_EQ((b[0].ecx >> 8) & 0xFF, 1u);
  EXPECT_EQ(b[1].eax, 3u);  // core bits: the package is APIC ID >> 3
  EXPECT_EQ(b[1].ebx, 3u);
  EXPECT_EQ((b[1].ecx >> 8) & 0xFF, 2u);
  EXPECT_EQ((b[2].ecx >> 8) & 0xFF, 0u);
  for (const auto& e : b) EXPECT_EQ(e.edx, 0x11u);
  for (const auto& e : out) {
    if (e.function == 4 && e.index == 0) {
      EXPECT_EQ((e.eax >> 14) & 0xFFF, 0u);  // L1: one core
    }
    if (e.function == 4 && e.index == 3) {
      EXPECT_EQ((e.eax >> 14) & 0xFFF, 7u);  // L3: the package
      EXPECT_EQ(e.eax >> 26, 7u);
    }
    if (e.function == 0x8000'001D) {
      EXPECT_EQ((e.eax >> 14) & 0xFFF, 7u);
    }
  }
  EXPECT_EQ((find(out, 0x8000'0008)->ecx >> 12) & 0xF, 3u);
  EXPECT_EQ(find(out, 0x8000'0008)->ecx & 0xFF, 7u);
  const auto* amd_topo = find(out, 0x8000'001E);
  EXPECT_EQ(amd_topo->eax, 0x11u);
  EXPECT_EQ(amd_topo->ebx & 0xFF, 1u);  // core 1
  EXPECT_EQ(amd_topo->ecx & 0xFF, 2u);  // package (node) 2
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
