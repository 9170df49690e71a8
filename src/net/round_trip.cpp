#include "net/round_trip.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/copy_bytes.hpp"

namespace amalgam::net {

namespace {

using Clock = std::chrono::steady_clock;

// A frame of its own for send(), which keeps what it is given.
std::vector<uint8_t> frame_of(std::span<const uint8_t> bytes) {
  std::vector<uint8_t> frame(bytes.size());
  copy_bytes(frame.data(), bytes.data(), bytes.size());
  return frame;
}

}  // namespace

RoundTripStats measure_round_trip(Transport& transport, NodeId peer, size_t bytes, size_t iterations,
                                  std::chrono::milliseconds timeout) {
  if (bytes < sizeof(uint64_t) || bytes > kMaxFrame || iterations == 0) {
    throw std::invalid_argument(fmt::format("round trip of {} pings of {} bytes", iterations, bytes));
  }
  std::vector<uint8_t> ping(bytes);
  for (size_t i = 0; i < bytes; ++i) ping[i] = static_cast<uint8_t>(i * 31 + 7);
  std::vector<uint64_t> samples;
  samples.reserve(iterations);
  for (uint64_t round = 0; round < iterations + kWarmupRounds; ++round) {
    std::memcpy(ping.data(), &round, sizeof round);
    std::vector<uint8_t> frame = frame_of(ping);  // built before the clock starts, as encode() builds a message's
    bool back = false;
    auto start = Clock::now();
    transport.send(peer, std::move(frame));
    while (!back) {
      if (Clock::now() - start > timeout) {
        throw TransportError(fmt::format("node {}: ping {} not echoed within {} ms", peer, round, timeout.count()));
      }
      if (!transport.poll(timeout, [&](NodeId from, std::span<const uint8_t> echo) {
            if (from != peer) return;
            if (!std::equal(echo.begin(), echo.end(), ping.begin(), ping.end())) {
              throw TransportError(fmt::format("node {}: ping {} came back changed ({} bytes)", peer, round, echo.size()));
            }
            back = true;
          })) {
        throw TransportError(fmt::format("node {}: transport closed during a round trip", peer));
      }
    }
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    if (round >= kWarmupRounds) samples.push_back(static_cast<uint64_t>(ns));
  }
  return summarize_round_trips(std::move(samples));
}

RoundTripStats summarize_round_trips(std::vector<uint64_t> samples) {
  if (samples.empty()) throw std::invalid_argument("round-trip figures of no samples");
  std::sort(samples.begin(), samples.end());
  RoundTripStats s;
  s.iterations = samples.size();
  s.median_ns = samples[samples.size() / 2];
  s.p99_ns = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  s.min_ns = samples.front();
  s.max_ns = samples.back();
  return s;
}

size_t echo_frames(Transport& transport, NodeId from, size_t count, std::chrono::milliseconds idle_timeout) {
  size_t echoed = 0;
  auto last = Clock::now();
  while (echoed < count && Clock::now() - last < idle_timeout) {
    bool open = transport.poll(idle_timeout, [&](NodeId sender, std::span<const uint8_t> frame) {
      if (sender != from || echoed == count) return;
      transport.send(from, frame_of(frame));  // the handler's bytes end with the call
      ++echoed;
      last = Clock::now();
    });
    if (!open) break;
  }
  return echoed;
}

}  // namespace amalgam::net
