#pragma once

#include <time.h>
#include <x86intrin.h>

#include <cstdint>

namespace amalgam::vcpu {

// Host monotonic time in ns: the time base of every LAPIC timer.
inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline uint64_t host_tsc() { return __rdtsc(); }

}  // namespace amalgam::vcpu
