// Checks every Transport must pass, shared by the transports' tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "net/messages.hpp"
#include "net/transport.hpp"

namespace amalgam::net::test {

// With nothing sent to it, `node` (not node 1) blocks in poll() until
// wakeup() (returns true) and then until close() (returns false), and refuses
// to send afterwards.
inline void expect_wakeup_then_close_end_poll(Transport& node) {
  using namespace std::chrono_literals;
  auto no_frames = [](NodeId, std::span<const uint8_t>) { ADD_FAILURE() << "no frame was sent"; };
  auto in_thread_after_20ms = [](auto f) {
    return std::thread([f] {
      std::this_thread::sleep_for(20ms);
      f();
    });
  };
  // Each poll must have waited for the other thread (20 ms at least), and
  // not for its own 10 s.
  auto begin = std::chrono::steady_clock::now();
  std::thread waker = in_thread_after_20ms([&] { node.wakeup(); });
  EXPECT_TRUE(node.poll(10s, no_frames));
  auto woken = std::chrono::steady_clock::now();
  EXPECT_GE(woken - begin, 20ms);
  EXPECT_LT(woken - begin, 5s);
  waker.join();
  begin = std::chrono::steady_clock::now();
  std::thread closer = in_thread_after_20ms([&] { node.close(); });
  EXPECT_FALSE(node.poll(10s, no_frames));
  auto closed = std::chrono::steady_clock::now();
  EXPECT_GE(closed - begin, 20ms);
  EXPECT_LT(closed - begin, 5s);
  closer.join();
  EXPECT_THROW(node.send(1, encode(Ready{}, node.self())), TransportError);
}

}  // namespace amalgam::net::test
