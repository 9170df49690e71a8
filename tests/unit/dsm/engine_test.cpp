// DSM engines on real memory through userfaultfd: single scenarios, bad
// messages and shutdown. Several engines run in this one process, each on its
// own mappings; the "nodes" are threads touching their own node's mapping.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <future>
#include <vector>

#include "dsm/engine.hpp"
#include "engine_harness.hpp"

namespace amalgam::dsm::testing {
namespace {

// Runs fn on a thread of its own: the engine resolves faults only for
// threads other than the one that waits for them, like vCPU threads.
template <typename Fn>
auto on_thread(Fn fn) {
  return std::async(std::launch::async, fn).get();
}

TEST(DsmEngine, FirstTouchAtTheHomeIsZeroFilledWithoutMessages) {
  EngineCluster c(2);
  // Pages 0, 2 (low range) and the first of the high range: home node 0.
  ASSERT_EQ(c.home_of(0), 0u);
  ASSERT_EQ(c.home_of(2), 0u);
  ASSERT_EQ(c.home_of(32), 0u);
  on_thread([&] {
    EXPECT_EQ(load(c.at(0, 0)), 0u);  // read miss: zero page, read-only
    store(c.at(0, 0), 7);              // write-protect fault: upgrade in place
    store(c.at(0, 2), 8);              // write miss: zero page, writable
    EXPECT_EQ(load(c.at(0, 32) + 4088), 0u);
    store(c.at(0, 32), 9);
  });
  EXPECT_EQ(load(c.at(0, 0)), 7u);
  EXPECT_EQ(load(c.at(0, 2)), 8u);
  EXPECT_EQ(load(c.at(0, 32)), 9u);
  EngineStats s = c.settled_stats(0);
  EXPECT_EQ(s.protocol.zero_fills, 3u);
  EXPECT_EQ(s.zero_maps, 3u);
  EXPECT_EQ(s.upgrades, 2u);
  EXPECT_EQ(s.missing_faults, 3u);
  EXPECT_EQ(s.wp_faults, 2u);
  EXPECT_EQ(s.protocol.read_faults, 2u);
  EXPECT_EQ(s.protocol.write_faults, 3u);
  EXPECT_EQ(s.protocol.messages_sent, 0u);
  EXPECT_EQ(c.bus().sent_by(0), 0u);
  EXPECT_EQ(c.bus().sent_by(1), 0u);
  EXPECT_TRUE(c.errors().empty());
}

TEST(DsmEngine, FirstTouchClaimsARunOfUntouchedPagesWithOneFault) {
  // One node: every page is homed here. Options::claim 8.
  EngineCluster c(1, Bus::Mode::Direct, 1, 32, Options{.claim = 8});
  on_thread([&] {
    EXPECT_EQ(load(c.at(0, 0)), 0u);  // a read takes page 0 Exclusive, and pages 1..8
    for (size_t i = 0; i <= 8; ++i) store(c.at(0, i), 100 + i);  // no fault at all
  });
  EngineStats s = c.settled_stats(0);
  EXPECT_EQ(s.missing_faults, 1u);
  EXPECT_EQ(s.wp_faults, 0u);
  EXPECT_EQ(s.protocol.claims, 8u);
  EXPECT_EQ(s.zero_maps, 9u);
  EXPECT_EQ(s.upgrades, 0u);
  on_thread([&] {
    store(c.at(0, 12), 1);           // claims 13..20
    EXPECT_EQ(load(c.at(0, 9)), 0u);  // claims 10, 11: the run ends at page 12, touched
    EXPECT_EQ(load(c.at(0, 28)), 0u);  // claims 29..31: page 32 is no RAM
  });
  s = c.settled_stats(0);
  EXPECT_EQ(s.missing_faults, 4u);
  EXPECT_EQ(s.protocol.claims, 8u + 8u + 2u + 3u);
  EXPECT_EQ(s.zero_maps, 9u + 9u + 3u + 4u);
  for (size_t i = 0; i <= 8; ++i) EXPECT_EQ(load(c.at(0, i)), 100 + i);
  EXPECT_EQ(load(c.at(0, 12)), 1u);
  EXPECT_EQ(c.engine(0).stats().missing_faults, 4u);  // those reads did not fault
  EXPECT_TRUE(c.errors().empty());
}

TEST(DsmEngine, PreallocatedHomePagesNeedNoFaultAndGoToOthersWithTheirBytes) {
  EngineCluster c(2, Bus::Mode::Direct, 1, 32, Options{.preallocate = true});
  ASSERT_EQ(c.home_of(4), 0u);
  ASSERT_EQ(c.home_of(5), 1u);
  EXPECT_EQ(c.settled_stats(0).preallocated_pages, 32u);  // 16 of each range
  EXPECT_EQ(c.settled_stats(1).preallocated_pages, 32u);
  on_thread([&] {
    for (size_t i = 0; i < c.pages(); i += 2) {
      EXPECT_EQ(load(c.at(0, i) + 8), 0u);
      store(c.at(0, i), 1000 + i);
    }
  });
  EngineStats s0 = c.settled_stats(0);
  EXPECT_EQ(s0.missing_faults + s0.wp_faults, 0u);  // mapped read-write from the start
  on_thread([&] {
    EXPECT_EQ(load(c.at(1, 4)), 1004u);  // a read: the home's bytes, not a zero page
    store(c.at(1, 6), 7);                 // a write: the home drops its copy
  });
  on_thread([&] { EXPECT_EQ(load(c.at(0, 6)), 7u); });
  s0 = c.settled_stats(0);
  EngineStats s1 = c.settled_stats(1);
  EXPECT_EQ(s0.protocol.pages_sent, 2u);
  EXPECT_EQ(s0.write_protects, 2u);  // each page before its bytes were read
  EXPECT_EQ(s0.drops, 1u);
  EXPECT_EQ(s0.missing_faults, 1u);  // page 6, after node 1 took it
  EXPECT_EQ(s0.zero_maps + s1.zero_maps, 0u);
  EXPECT_EQ(s1.protocol.pages_sent, 1u);  // page 6 back to its home
  EXPECT_TRUE(c.errors().empty());
}

TEST(DsmEngine, RemoteReadsSeeBytesWrittenElsewhereAndWritesInvalidateThem) {
  EngineCluster c(3);
  ASSERT_EQ(c.home_of(3), 0u);
  std::vector<uint8_t> pattern(kPageSize);
  for (size_t i = 0; i < kPageSize; ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 1);

  on_thread([&] { std::memcpy(c.at(1, 3), pattern.data(), kPageSize); });  // node 1 owns it
  on_thread([&] { EXPECT_EQ(std::memcmp(c.at(2, 3), pattern.data(), kPageSize), 0); });
  on_thread([&] { EXPECT_EQ(std::memcmp(c.at(0, 3), pattern.data(), kPageSize), 0); });
  // Everyone holds it read-only now; node 2 writes, the others lose their copy.
  on_thread([&] { store(c.at(2, 3) + 64, 0xfeed); });
  on_thread([&] {
    EXPECT_EQ(load(c.at(1, 3) + 64), 0xfeedu);
    EXPECT_EQ(load(c.at(0, 3) + 64), 0xfeedu);
    EXPECT_EQ(c.at(0, 3)[4095], pattern[4095]);
  });

  EngineStats s0 = c.settled_stats(0), s1 = c.settled_stats(1), s2 = c.settled_stats(2);
  // Node 1 (the lowest holder) supplied the first bytes to nodes 2 and 0, and
  // node 2's new bytes to node 0 after node 2 had supplied them to node 1.
  EXPECT_EQ(s0.protocol.pages_sent, 0u);
  EXPECT_EQ(s1.protocol.pages_sent, 3u);
  EXPECT_EQ(s2.protocol.pages_sent, 1u);
  EXPECT_EQ(s0.protocol.pages_received, 2u);
  EXPECT_EQ(s1.protocol.pages_received, 1u);
  EXPECT_EQ(s2.protocol.pages_received, 1u);
  EXPECT_EQ(s0.protocol.bytes_received, 2 * kPageSize);
  EXPECT_EQ(s2.upgrades, 1u);
  EXPECT_EQ(s0.drops + s1.drops, 2u);  // invalidated by node 2's write
  EXPECT_EQ(s1.write_protects, 1u);    // downgraded when node 2 first read
  EXPECT_EQ(s2.write_protects, 1u);    // and node 2 when node 1 read again
  EXPECT_TRUE(c.errors().empty());
}

Message to_node0(MessageType type, NodeId sender, NodeId requester, PageNumber page, RequestId request) {
  Message m;
  m.type = type;
  m.sender = sender;
  m.destination = 0;
  m.requester = requester;
  m.page = page;
  m.request = request;
  return m;
}

TEST(DsmEngine, BadMessagesAreReportedNamingThePeerAndIgnored) {
  EngineCluster c(2);
  // Data for a request node 0 never made.
  Message stray = to_node0(MessageType::Data, 1, 0, 4, 77);
  stray.payload.resize(kPageSize);
  c.engine(0).deliver(stray);
  Message stranger = stray;  // from a node that does not exist
  stranger.sender = 9;
  c.engine(0).deliver(stranger);
  // A Request for a page that is not guest RAM here.
  c.engine(0).deliver(to_node0(MessageType::Request, 1, 1, 0x50, 1));

  auto errors = c.wait_for_errors(3);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].node, 0u);
  EXPECT_EQ(errors[0].error.peer, 1u);
  EXPECT_NE(errors[0].error.what.find("node 1"), std::string::npos) << errors[0].error.what;
  EXPECT_NE(errors[0].error.what.find("unexpected Data"), std::string::npos) << errors[0].error.what;
  EXPECT_EQ(errors[1].error.peer, 9u);
  EXPECT_NE(errors[1].error.what.find("sender 9"), std::string::npos) << errors[1].error.what;
  EXPECT_EQ(errors[2].error.peer, 1u);
  EXPECT_NE(errors[2].error.what.find("outside guest RAM"), std::string::npos) << errors[2].error.what;

  // The engine still works.
  on_thread([&] {
    store(c.at(0, 4), 5);
    EXPECT_EQ(load(c.at(1, 4)), 5u);
  });
  EXPECT_EQ(c.settled_stats(0).protocol.protocol_errors, 2u);  // the third never reached the protocol
  EXPECT_EQ(c.errors().size(), 3u);
}

TEST(DsmEngine, StopReleasesAThreadBlockedOnAFaultNobodyAnswers) {
  EngineCluster c(2, Bus::Mode::Drop);
  ASSERT_EQ(c.home_of(1), 1u);
  auto reader = std::async(std::launch::async, [&] {
    uint64_t v = load(c.at(0, 1));  // the Request to node 1 is lost
    return std::make_pair(v, c.engine(0).stopped());
  });
  for (int i = 0; i < 5000 && c.engine(0).stats().missing_faults == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(c.engine(0).stats().missing_faults, 1u);
  EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(20)), std::future_status::timeout);
  c.engine(0).stop();
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [value, stopped] = reader.get();
  EXPECT_TRUE(stopped);  // the thread can tell that its access is void
  EXPECT_EQ(value, 0u);
  c.engine(0).stop();  // idempotent
}

TEST(DsmEngine, RejectsBadRanges) {
  Mapping m = Mapping::anonymous(4 * kPageSize);
  NodeProtocol p(0, 1, [](PageNumber) { return NodeId{0}; });
  auto send = [](NodeId, const Message&) {};
  EXPECT_THROW(DsmEngine({{0x1000, 100, m.data()}}, p, send, nullptr), std::invalid_argument);
  EXPECT_THROW(DsmEngine({{0, 2 * kPageSize, m.data()}, {kPageSize, kPageSize, m.data() + 2 * kPageSize}}, p,
                         send, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace amalgam::dsm::testing
