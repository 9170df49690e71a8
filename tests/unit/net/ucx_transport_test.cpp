// UCX transport between nodes in one process (one thread per node during
// wire-up), over shared memory and over TCP on loopback.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>

#include "net/local_addresses.hpp"
#include "net/messages.hpp"
#include "net/round_trip.hpp"
#include "net/ucx_transport.hpp"
#include "sample_messages.hpp"
#include "transport_checks.hpp"

using namespace amalgam::net;
using namespace std::chrono_literals;
using Kind = UcxTransport::Kind;

namespace {

using Nodes = std::vector<std::unique_ptr<UcxTransport>>;

UcxTransport::Options options(NodeId self, uint32_t nodes, Kind kind, const std::vector<std::string>& addresses,
                              std::chrono::microseconds busy_poll = 0us) {
  UcxTransport::Options o;
  o.busy_poll = busy_poll;
  o.self = self;
  o.nodes = nodes;
  o.kind = kind;
  o.addresses = addresses;
  o.connect_timeout = 10s;
  return o;
}

// Every node constructed at once, each in its own thread (the constructor
// waits for the others).
Nodes start(uint32_t count, Kind kind, std::chrono::microseconds busy_poll = 0us) {
  auto addresses = pick_local_addresses(count);
  std::vector<std::future<std::unique_ptr<UcxTransport>>> starting;
  for (NodeId n = 0; n < count; ++n) {
    starting.push_back(std::async(std::launch::async, [=] {
      return std::make_unique<UcxTransport>(options(n, count, kind, addresses, busy_poll));
    }));
  }
  Nodes nodes;
  for (auto& f : starting) nodes.push_back(f.get());
  return nodes;
}

// Polls `node` until `count` frames have come (or 5 s pass).
std::vector<std::pair<NodeId, Message>> receive(Transport& node, size_t count) {
  std::vector<std::pair<NodeId, Message>> got;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
    node.poll(50ms, [&](NodeId from, std::span<const uint8_t> frame) { got.emplace_back(from, decode(frame, from)); });
  }
  return got;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

const char* name(Kind kind) { return kind == Kind::SharedMemory ? "shm" : "tcp"; }

// Node `node` polls (each poll waiting up to `wait`) and sends to node 0,
// which has closed, until a send fails (or 5 s pass): the failure's message.
std::string error_once_node0_is_gone(Transport& node, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    node.poll(wait, [](NodeId, std::span<const uint8_t>) {});
    try {
      node.send(0, encode(Ready{}, node.self()));
    } catch (const TransportError& e) {
      return e.what();
    }
  }
  return "";
}

class NetUcx : public ::testing::TestWithParam<Kind> {};

}  // namespace

TEST_P(NetUcx, ThreeNodesExchangeEveryMessageTypeBothWays) {
  Nodes nodes = start(3, GetParam());
  EXPECT_EQ(nodes[1]->self(), 1u);
  EXPECT_EQ(nodes[1]->node_count(), 3u);
  EXPECT_EQ(nodes[0]->net_devices(), "lo");
  size_t per_pair = test::sample_messages(0).size();
  // Everyone sends everything to everyone, from a thread per node while the
  // receivers poll.
  std::vector<std::thread> senders;
  for (auto& from : nodes) {
    senders.emplace_back([&, n = from.get()] {
      for (NodeId to = 0; to < 3; ++to) {
        if (to == n->self()) continue;
        for (const Message& m : test::sample_messages(n->self())) n->send(to, encode(m, n->self()));
      }
    });
  }
  std::vector<std::future<std::vector<std::pair<NodeId, Message>>>> receiving;
  for (auto& node : nodes) {
    receiving.push_back(std::async(std::launch::async, [&, n = node.get()] { return receive(*n, 2 * per_pair); }));
  }
  for (auto& t : senders) t.join();
  for (NodeId n = 0; n < 3; ++n) {
    auto got = receiving[n].get();
    ASSERT_EQ(got.size(), 2 * per_pair) << "node " << n;
    for (NodeId from = 0; from < 3; ++from) {
      if (from == n) continue;
      auto want = test::sample_messages(from);
      size_t matched = 0;
      for (const auto& [sender, m] : got) {
        if (sender != from) continue;
        EXPECT_NE(std::find(want.begin(), want.end(), m), want.end());
        ++matched;
      }
      EXPECT_EQ(matched, per_pair) << "node " << n << " from node " << from;
    }
  }
  // The data moves over what the kind says (UCX's own description of the lanes).
  std::string lanes = nodes[0]->endpoint_info(1);
  if (GetParam() == Kind::SharedMemory) {
    EXPECT_TRUE(lanes.find("sysv/") != std::string::npos || lanes.find("posix/") != std::string::npos) << lanes;
    EXPECT_EQ(lanes.find("tcp/"), std::string::npos) << lanes;
  } else {
    EXPECT_NE(lanes.find("tcp/lo"), std::string::npos) << lanes;
  }
}

TEST_P(NetUcx, ABurstOfPagesArrivesIntactThoughTheSenderMovesEachFrameIn) {
  // More 4 KiB frames than UCX's shared-memory FIFO holds, sent while the
  // peer is not polling, each moved into send(): the frames UCX cannot take
  // at once must live on in the transport until they are sent.
  Nodes nodes = start(2, GetParam());
  constexpr uint32_t kFrames = 1024;
  auto fill = [](std::vector<uint8_t>& b, uint32_t i) {
    for (size_t k = 0; k < b.size(); ++k) b[k] = static_cast<uint8_t>(i * 131 + k);
    std::memcpy(b.data(), &i, sizeof i);
  };
  for (uint32_t i = 0; i < kFrames; ++i) {
    std::vector<uint8_t> frame(4096);
    fill(frame, i);
    nodes[0]->send(1, std::move(frame));
  }
  std::vector<bool> seen(kFrames);
  size_t got = 0, intact = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (got < kFrames && std::chrono::steady_clock::now() < deadline) {
    nodes[0]->poll(0ms, [](NodeId, std::span<const uint8_t>) {});  // lets queued sends go on
    nodes[1]->poll(10ms, [&](NodeId from, std::span<const uint8_t> frame) {
      ++got;
      uint32_t i = kFrames;
      if (from != 0 || frame.size() != 4096) return;
      std::memcpy(&i, frame.data(), sizeof i);
      if (i >= kFrames || seen[i]) return;
      std::vector<uint8_t> want(4096);
      fill(want, i);
      seen[i] = true;
      intact += std::equal(want.begin(), want.end(), frame.begin());
    });
  }
  EXPECT_EQ(got, kFrames);
  EXPECT_EQ(intact, kFrames);
}

TEST_P(NetUcx, RoundTripOf8BytesAnd4KiB) {
  // Both nodes sleep on the worker's event fd between frames (busy_poll 0):
  // spinning threads on a machine with fewer free cores than threads only
  // measure the scheduler.
  Nodes nodes = start(2, GetParam());
  for (size_t bytes : {size_t{8}, size_t{4096}}) {
    constexpr size_t kIterations = 2000;
    auto echo = std::async(std::launch::async, [&] { return echo_frames(*nodes[1], 0, kIterations + kWarmupRounds); });
    RoundTripStats s = measure_round_trip(*nodes[0], 1, bytes, kIterations);
    EXPECT_EQ(echo.get(), kIterations + kWarmupRounds);
    EXPECT_EQ(s.iterations, kIterations);
    EXPECT_GT(s.min_ns, 0u);  // (every ping came back unchanged, or measure_round_trip threw)
    std::printf("[ ucx %s ] round trip %4zu B: median %6.1f us  p99 %6.1f us  (min %.1f, max %.1f, %zu pings)\n",
                name(GetParam()), bytes, s.median_ns / 1e3, s.p99_ns / 1e3, s.min_ns / 1e3, s.max_ns / 1e3,
                s.iterations);
    RecordProperty(fmt::format("{}_{}B_median_ns", name(GetParam()), bytes), std::to_string(s.median_ns));
  }
}

TEST_P(NetUcx, WakeupAndCloseEndAPoll) {
  Nodes nodes = start(2, GetParam());
  test::expect_wakeup_then_close_end_poll(*nodes[0]);
  EXPECT_EQ(error_of([&] { nodes[0]->send(1, encode(Ready{}, 0)); }), "node 0: send to node 1 after close");
  // Node 1 learns that node 0 is gone and says so when it sends.
  std::string error = error_once_node0_is_gone(*nodes[1], 10ms);
  EXPECT_NE(error.find("node 0 (127.0.0.1:"), std::string::npos) << error;
}

TEST_P(NetUcx, ANodeThatOnlyPollsWithoutWaitingLearnsThatItsPeerIsGone) {
  // As a busy-polling receive thread or a spinning fault thread does: it
  // never sleeps, so it never hears the connection's signal (for
  // SharedMemory the connections are a worker of their own).
  Nodes nodes = start(2, GetParam());
  nodes[0]->close();
  std::string error = error_once_node0_is_gone(*nodes[1], 0ms);
  EXPECT_NE(error.find("node 0 (127.0.0.1:"), std::string::npos) << error;
}

// A thread that spins for an answer (spin()) next to the node's receive
// thread in poll(): each answer reaches one of the two and ends the spin,
// and afterwards the receive thread takes frames again, whether it was
// asleep when the spins began (busy_poll 0) or busy-polling (it then waits
// for each spin to end).
TEST_P(NetUcx, ASpinningThreadAndThePollingThreadShareTheFrames) {
  for (auto busy_poll : {0us, 5'000'000us}) {
    SCOPED_TRACE(fmt::format("busy_poll {} us", busy_poll.count()));
    Nodes nodes = start(2, GetParam(), busy_poll);
    constexpr int kRounds = 200, kLongRounds = 5;
    std::atomic<int> by_receiver{0};
    std::atomic<bool> stop{false};
    std::thread receiver([&] {
      while (!stop && nodes[0]->poll(50ms, [&](NodeId, std::span<const uint8_t>) { ++by_receiver; })) {
      }
    });
    auto echo = std::async(std::launch::async, [&] { return echo_frames(*nodes[1], 0, kRounds + kLongRounds); });
    int by_spin = 0;
    std::vector<uint8_t> ping = encode(Heartbeat{1}, 0);
    for (int i = 0; i < kRounds; ++i) {
      int before = by_spin + by_receiver;
      nodes[0]->send(1, ping);
      EXPECT_TRUE(nodes[0]->spin(5s, [&](NodeId, std::span<const uint8_t>) { ++by_spin; },
                                 [&] { return by_spin + by_receiver > before; }));
      ASSERT_GT(by_spin + by_receiver, before) << "round " << i << ": no answer within 5 s";
    }
    // Spins long enough for a busy-polling receive thread to find them
    // and wait: each ends only 20 ms after its answer.
    for (int i = 0; i < kLongRounds; ++i) {
      int before = by_spin + by_receiver;
      nodes[0]->send(1, ping);
      auto start = std::chrono::steady_clock::now();
      EXPECT_TRUE(nodes[0]->spin(5s, [&](NodeId, std::span<const uint8_t>) { ++by_spin; }, [&] {
        return by_spin + by_receiver > before && std::chrono::steady_clock::now() - start > 20ms;
      }));
    }
    EXPECT_EQ(echo.get(), static_cast<size_t>(kRounds + kLongRounds));
    EXPECT_EQ(by_spin + by_receiver, kRounds + kLongRounds);
    EXPECT_GT(by_spin, 0);
    // No spin now: the receive thread alone takes what comes.
    int received = by_receiver;
    nodes[1]->send(0, ping);
    for (int i = 0; i < 5000 && by_receiver == received; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(by_receiver, received + 1);
    // close() ends the receive thread's poll, even one waiting for a spin.
    stop = true;
    nodes[0]->close();
    receiver.join();
    // And a closed transport ends a spin at once.
    EXPECT_FALSE(nodes[0]->spin(5s, [](NodeId, std::span<const uint8_t>) {}, [] { return false; }));
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, NetUcx, ::testing::Values(Kind::SharedMemory, Kind::Tcp),
                         [](const auto& info) { return std::string(name(info.param)); });

TEST(NetUcxWireUp, TimeOutsNameThePeer) {
  auto addresses = pick_local_addresses(2);
  auto o = options(1, 2, Kind::Tcp, addresses);
  o.connect_timeout = 300ms;
  EXPECT_EQ(error_of([&] { UcxTransport t(o); }).rfind("node 0 (" + addresses[0] + "): connect timed out after 0.3 s", 0),
            0u)
      << "node 0 never started";
  o.self = 0;
  EXPECT_EQ(error_of([&] { UcxTransport t(o); }),
            "node 1 (" + addresses[1] + "): did not connect to node 0 within 0.3 s");
}

TEST(NetUcxWireUp, NodesThatDisagreeRefuseEachOther) {
  auto addresses = pick_local_addresses(2);
  auto first = std::async(std::launch::async, [&] {
    auto o = options(0, 2, Kind::SharedMemory, addresses);
    o.build_id = 1;
    o.connect_timeout = 2s;
    return error_of([&] { UcxTransport t(o); });
  });
  auto o = options(1, 2, Kind::SharedMemory, addresses);
  o.build_id = 2;
  o.connect_timeout = 2s;
  std::string second = error_of([&] { UcxTransport t(o); });
  EXPECT_EQ(second, "node 0 (" + addresses[0] + "): build 0x1, node 1 is build 0x2");
  EXPECT_EQ(first.get(), "node 1 (" + addresses[1] + "): build 0x2, node 0 is build 0x1");
}

TEST(NetUcxWireUp, BadOptions) {
  auto addresses = pick_local_addresses(2);
  EXPECT_THROW(UcxTransport(options(2, 2, Kind::Tcp, addresses)), std::invalid_argument);
  EXPECT_THROW(UcxTransport(options(0, 3, Kind::Tcp, addresses)), std::invalid_argument);
  EXPECT_EQ(error_of([&] { UcxTransport(options(0, 2, Kind::Tcp, {"127.0.0.1", addresses[1]})); }),
            "node 0 address \"127.0.0.1\": want host:port");
  // A single node needs nobody.
  UcxTransport alone(options(0, 1, Kind::SharedMemory, {"127.0.0.1:1"}));
  EXPECT_TRUE(alone.poll(1ms, [](NodeId, std::span<const uint8_t>) {}));
}
