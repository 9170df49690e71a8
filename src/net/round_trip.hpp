// Ping-pong latency over any Transport, for benchmarks: one node measures,
// the peer echoes. The pings are raw bytes (not decoded frames), so run them
// on a transport nothing else uses at the time: frames from other nodes that
// arrive meanwhile are dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/transport.hpp"

namespace amalgam::net {

struct RoundTripStats {
  size_t iterations = 0;  // measured (after the warm-up)
  uint64_t median_ns = 0;
  uint64_t p99_ns = 0;
  uint64_t min_ns = 0;
  uint64_t max_ns = 0;
};

// The figures of a set of round-trip times (at least one), in any order.
RoundTripStats summarize_round_trips(std::vector<uint64_t> samples_ns);

// Sends `bytes`-byte pings (8 to kMaxFrame) to `peer` one at a time and waits
// for each to come back; a few warm-up rounds are not counted. The peer must
// run echo_frames(). Throws TransportError naming the peer when an echo does
// not come within `timeout` or comes back changed.
RoundTripStats measure_round_trip(Transport& transport, NodeId peer, size_t bytes, size_t iterations,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The peer's side: sends every frame from `from` straight back until `count`
// have been echoed; returns how many were (fewer when the transport closes or
// `idle_timeout` passes without a frame).
size_t echo_frames(Transport& transport, NodeId from, size_t count,
                   std::chrono::milliseconds idle_timeout = std::chrono::seconds(5));

// Warm-up rounds measure_round_trip() runs (and echo_frames() must answer)
// on top of `iterations`.
inline constexpr size_t kWarmupRounds = 16;

}  // namespace amalgam::net
