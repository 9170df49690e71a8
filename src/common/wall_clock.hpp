// Host wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch:
// what the guest clock's epoch, kvmclock and the CMOS RTC are set from.
#pragma once

#include <time.h>

#include <cstdint>

namespace amalgam {

inline uint64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace amalgam
