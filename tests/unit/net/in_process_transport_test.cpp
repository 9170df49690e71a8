// The in-process transport: delivery between endpoints, wakeup, close, and
// seeded reordering.
#include <gtest/gtest.h>

#include <thread>

#include "net/in_process_transport.hpp"
#include "net/messages.hpp"
#include "transport_checks.hpp"

using namespace amalgam::net;
using namespace std::chrono_literals;

namespace {

struct Received {
  NodeId from;
  std::vector<uint8_t> bytes;
};

std::vector<Received> drain(Transport& t, size_t want, std::chrono::milliseconds timeout = 2000ms) {
  std::vector<Received> got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    t.poll(10ms, [&](NodeId from, std::span<const uint8_t> bytes) { got.push_back({from, {bytes.begin(), bytes.end()}}); });
  }
  return got;
}

}  // namespace

TEST(NetInProcess, DeliversFramesWithTheSender) {
  auto nodes = InProcessTransport::create(3);
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[1]->self(), 1u);
  EXPECT_EQ(nodes[1]->node_count(), 3u);
  nodes[0]->send(2, encode(Heartbeat{1}, 0));
  nodes[1]->send(2, encode(Heartbeat{2}, 1));
  auto got = drain(*nodes[2], 2);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& r : got) {
    auto m = std::get<Heartbeat>(decode(r.bytes, r.from));
    EXPECT_EQ(m.seq, r.from + 1);
  }
}

TEST(NetInProcess, BadDestinationsAndOversizedFrames) {
  auto nodes = InProcessTransport::create(2);
  std::vector<uint8_t> frame(8);
  EXPECT_THROW(nodes[0]->send(0, frame), std::invalid_argument);
  EXPECT_THROW(nodes[0]->send(2, frame), std::invalid_argument);
  EXPECT_THROW(nodes[0]->send(1, std::vector<uint8_t>(kMaxFrame + 1)), std::invalid_argument);
  EXPECT_NO_THROW(nodes[0]->send(1, std::vector<uint8_t>(kMaxFrame)));
}

TEST(NetInProcess, PollTimesOutWakesUpAndStopsAfterClose) {
  auto nodes = InProcessTransport::create(2);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(nodes[0]->poll(20ms, [](NodeId, std::span<const uint8_t>) { ADD_FAILURE(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  test::expect_wakeup_then_close_end_poll(*nodes[0]);
  try {
    nodes[1]->send(0, encode(Ready{}, 1));
    ADD_FAILURE() << "sent to a closed node";
  } catch (const TransportError& e) {
    EXPECT_NE(std::string(e.what()).find("node 0: closed"), std::string::npos) << e.what();
  }
}

TEST(NetInProcess, HandlerMaySendAndEveryFrameArrivesOnce) {
  auto nodes = InProcessTransport::create(2, {.max_delay = 2000us, .seed = 42});
  constexpr int kCount = 200;
  std::thread echo([&] {
    int echoed = 0;
    while (echoed < kCount && nodes[1]->poll(50ms, [&](NodeId from, std::span<const uint8_t> bytes) {
      nodes[1]->send(from, {bytes.begin(), bytes.end()});  // same bytes back
      ++echoed;
    })) {
    }
  });
  for (int i = 0; i < kCount; ++i) nodes[0]->send(1, std::vector<uint8_t>{static_cast<uint8_t>(i)});
  auto got = drain(*nodes[0], kCount, 10s);
  echo.join();
  ASSERT_EQ(got.size(), size_t{kCount});
  std::vector<int> seen(kCount);
  bool reordered = false;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].bytes.size(), 1u);
    seen[got[i].bytes[0]]++;
    reordered |= got[i].bytes[0] != i;
  }
  for (int n : seen) EXPECT_EQ(n, 1);
  EXPECT_TRUE(reordered) << "2 ms of random delay should let frames overtake each other";
}
