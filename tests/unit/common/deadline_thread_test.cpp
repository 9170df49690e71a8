// DeadlineThread: a teardown joins a thread only if it ends in time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/deadline_thread.hpp"

using namespace std::chrono_literals;
using amalgam::DeadlineThread;

TEST(DeadlineThread, JoinsAThreadThatEndsInTime) {
  std::atomic<bool> ran{false};
  DeadlineThread t([&] {
    std::this_thread::sleep_for(10ms);
    ran = true;
  });
  EXPECT_TRUE(t.join_within(5s));
  EXPECT_TRUE(ran);
  EXPECT_FALSE(t.joinable());
  EXPECT_TRUE(t.join_within(0ms));  // joined already
}

TEST(DeadlineThread, LeavesAThreadThatDoesNotEndInTime) {
  std::atomic<bool> release{false};
  DeadlineThread t([&] {
    while (!release) std::this_thread::sleep_for(1ms);
  });
  auto begin = std::chrono::steady_clock::now();
  EXPECT_FALSE(t.join_within(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 50ms);
  EXPECT_TRUE(t.joinable());
  release = true;
  EXPECT_TRUE(t.join_within(5s));
}

TEST(DeadlineThread, ANeverStartedThreadCountsAsJoined) {
  DeadlineThread t;
  EXPECT_TRUE(t.join_within(0ms));
}
