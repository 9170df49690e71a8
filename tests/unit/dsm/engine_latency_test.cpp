// How long a thread waits on a DSM fault between two engines in one process
// (messages handed over directly, no network): printed, not asserted, since
// this machine's timing depends on what else runs on its two cores.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "dsm/engine.hpp"
#include "engine_harness.hpp"

namespace amalgam::dsm::testing {
namespace {

struct Latencies {
  std::vector<double> us;
  void time(const std::function<void()>& access) {
    auto t0 = std::chrono::steady_clock::now();
    access();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  double median() {
    std::sort(us.begin(), us.end());
    return us.empty() ? 0 : us[us.size() / 2];
  }
};

TEST(DsmEngineLatency, FaultsBetweenTwoEnginesInOneProcess) {
  constexpr size_t kPerRange = 128;
  EngineCluster c(2, Bus::Mode::Direct, 1, kPerRange);
  Latencies local_zero, remote_zero, remote_read, upgrade, remote_write;
  std::thread([&] {
    // Node 1 owns the low range.
    for (size_t i = 0; i < kPerRange; ++i) store(c.at(1, i), i + 1);
    // High range: first touch; home 0 needs no message, home 1 one round trip.
    for (size_t i = kPerRange; i < 2 * kPerRange; ++i)
      (c.home_of(i) == 0 ? local_zero : remote_zero).time([&] { EXPECT_EQ(load(c.at(0, i)), 0u); });
    // Low range: the bytes come from node 1 (forwarded by the home if that is node 0).
    for (size_t i = 0; i < kPerRange; ++i) remote_read.time([&] { EXPECT_EQ(load(c.at(0, i)), i + 1); });
    // Now shared by both: a write upgrades in place and invalidates node 1's copy.
    for (size_t i = 0; i < kPerRange; ++i) upgrade.time([&] { store(c.at(0, i), i + 2); });
    // Node 1 writes them back: the page moves and node 0's copy goes.
    for (size_t i = 0; i < kPerRange; ++i) remote_write.time([&] { store(c.at(1, i), i + 3); });
  }).join();
  EXPECT_TRUE(c.errors().empty());
  std::string report = fmt::format(
      "median fault latency (us): local zero fill {:.1f}, remote zero grant {:.1f}, remote read miss {:.1f}, "
      "write upgrade {:.1f}, remote write miss {:.1f}",
      local_zero.median(), remote_zero.median(), remote_read.median(), upgrade.median(), remote_write.median());
  std::cout << report << "\n";
  RecordProperty("latency", report);
  EngineStats s0 = c.settled_stats(0);
  EXPECT_EQ(s0.protocol.pages_received, kPerRange);
  EXPECT_EQ(s0.protocol.pages_sent, kPerRange);
}

}  // namespace
}  // namespace amalgam::dsm::testing
