// The engine's hold time (DsmEngine::set_hold, "Progress" in engine.hpp): a
// page just mapped on one node stays there that long before another node's
// request takes it, and the memory stays coherent while messages wait.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "dsm/engine.hpp"
#include "engine_harness.hpp"

namespace amalgam::dsm::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Node 1 writes a page homed on node 0; node 0 at once reads it back. The
// Forward that takes node 1's copy waits until node 1 has held it for the
// hold time, then node 0 sees node 1's value.
TEST(DsmEngineHold, APageJustMappedIsKeptForTheHoldTime) {
  constexpr auto kHold = milliseconds(200);
  EngineCluster c(2, Bus::Mode::Direct, 1, 32, {}, kHold);
  constexpr size_t kPage = 2;
  ASSERT_EQ(c.home_of(kPage), 0u);
  Clock::time_point mapped;
  std::thread([&] {
    store(c.at(1, kPage), 0x1234);
    mapped = Clock::now();
  }).join();
  uint64_t seen = 0;
  std::thread([&] { seen = load(c.at(0, kPage)); }).join();
  const auto waited = Clock::now() - mapped;
  EXPECT_EQ(seen, 0x1234u);
  EXPECT_GE(waited, kHold - milliseconds(5));
  EXPECT_EQ(c.settled_stats(1).held_messages, 1u);
  EXPECT_EQ(c.settled_stats(0).held_messages, 0u);
}

// Past the hold time nothing waits.
TEST(DsmEngineHold, APageHeldLongerThanTheHoldTimeGoesAtOnce) {
  constexpr auto kHold = milliseconds(20);
  EngineCluster c(2, Bus::Mode::Direct, 1, 32, {}, kHold);
  constexpr size_t kPage = 2;
  std::thread([&] { store(c.at(1, kPage), 7); }).join();
  std::this_thread::sleep_for(kHold * 3);
  uint64_t seen = 0;
  std::thread([&] { seen = load(c.at(0, kPage)); }).join();
  EXPECT_EQ(seen, 7u);
  EXPECT_EQ(c.settled_stats(1).held_messages, 0u);
}

// Without a hold time (the default) no message is held.
TEST(DsmEngineHold, OffByDefault) {
  EngineCluster c(2);
  constexpr size_t kPage = 2;
  std::thread([&] { store(c.at(1, kPage), 9); }).join();
  uint64_t seen = 0;
  std::thread([&] { seen = load(c.at(0, kPage)); }).join();
  EXPECT_EQ(seen, 9u);
  EXPECT_EQ(c.settled_stats(1).held_messages, 0u);
}

// Three nodes take turns incrementing one counter, each increment a write
// miss that invalidates the others' copies, with messages out of order and
// a hold time in the way of most of them: the count stays exact.
TEST(DsmEngineHold, TurnsOnOneCounterStayExactWhileMessagesWait) {
  constexpr uint32_t kNodes = 3, kRounds = 30;
  EngineCluster c(kNodes, Bus::Mode::Shuffled, 5, 32, {}, std::chrono::microseconds(300));
  constexpr size_t kCounter = 4;
  on_every_node(kNodes, 1, [&](NodeId n, uint32_t) {
    for (uint32_t done = 0; done < kRounds;) {
      std::atomic_ref<uint64_t> counter(*reinterpret_cast<uint64_t*>(c.at(n, kCounter)));
      uint64_t v = counter.load();
      if (v % kNodes == n && counter.compare_exchange_strong(v, v + 1)) ++done;
      std::this_thread::yield();
    }
  });
  uint64_t held = 0;
  for (NodeId n = 0; n < kNodes; ++n) {
    EXPECT_EQ(load(c.at(n, kCounter)), kNodes * kRounds) << "node " << n;
    held += c.settled_stats(n).held_messages;
  }
  EXPECT_GT(held, 0u) << "no message was held: the test did not test the hold";
  EXPECT_TRUE(c.errors().empty());
}

}  // namespace
}  // namespace amalgam::dsm::testing

namespace amalgam::dsm::testing {
namespace {

// In every period the ranking is a strict order of all nodes (no two equal,
// no cycle), and over `nodes` periods each node comes first once.
TEST(DsmEngineHold, RankingIsAStrictOrderThatRotates) {
  for (uint32_t nodes : {1u, 2u, 3u, 5u}) {
    std::vector<uint32_t> firsts(nodes, 0);
    for (uint64_t period = 0; period < nodes; ++period) {
      for (NodeId a = 0; a < nodes; ++a) {
        EXPECT_FALSE(ranks_before(a, a, nodes, period));
        for (NodeId b = 0; b < nodes; ++b) {
          if (a == b) continue;
          EXPECT_NE(ranks_before(a, b, nodes, period), ranks_before(b, a, nodes, period));
        }
        bool first = true;
        for (NodeId b = 0; b < nodes; ++b) first = first && (a == b || ranks_before(a, b, nodes, period));
        firsts[a] += first;
      }
    }
    for (NodeId a = 0; a < nodes; ++a) EXPECT_EQ(firsts[a], 1u) << "node " << a << " of " << nodes;
  }
}

}  // namespace
}  // namespace amalgam::dsm::testing
