// <linux/kvm.h>, made safe for C++.
//
// The linux-libc-dev 6.1 headers declare flexible arrays through
// __DECLARE_FLEX_ARRAY, which wraps them in a struct with an empty member;
// in C++ an empty struct takes a byte, so kvm_cpuid2::entries lands at offset
// 12 instead of 8 and the ioctl numbers encode the wrong size
// (KVM_GET_SUPPORTED_CPUID then fails with EINVAL). Declaring the arrays
// plainly restores the kernel's layout; the asserts below keep it so.
#pragma once

#include <linux/stddef.h>
#undef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) TYPE NAME[0]  // zero-size arrays: a GNU extension
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <linux/kvm.h>
#pragma GCC diagnostic pop

#include <cstddef>

static_assert(sizeof(kvm_cpuid2) == 8 && offsetof(kvm_cpuid2, entries) == 8);
static_assert(sizeof(kvm_msrs) == 8 && offsetof(kvm_msrs, entries) == 8);
static_assert(KVM_GET_SUPPORTED_CPUID == 0xC008AE05);
