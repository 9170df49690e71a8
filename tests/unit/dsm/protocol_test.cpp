// Single scenarios of the DSM protocol, run on a ModelCluster whose messages are
// delivered in an order each test chooses.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include "dsm/model_cluster.hpp"
#include "dsm/protocol.hpp"

using namespace amalgam::dsm;
using Mapping = ModelCluster::Mapping;

namespace {

// Page p's home is node p % nodes.
ModelCluster make(uint32_t nodes, uint32_t pages = 4, Options options = {}) {
  return ModelCluster(nodes, pages, [nodes](PageNumber p) { return static_cast<NodeId>(p % nodes); }, options);
}

uint64_t load(const ModelCluster& c, NodeId n, PageNumber p) {
  uint64_t v;
  std::memcpy(&v, c.bytes(n, p).data(), sizeof v);
  return v;
}

// Node n writes v at offset 0 of page p, faulting first if it must.
void write(ModelCluster& c, NodeId n, PageNumber p, uint64_t v) {
  if (c.mapping(n, p) != Mapping::ReadWrite) {
    c.fault(n, p, Access::Write);
    c.deliver_all();
  }
  ASSERT_EQ(c.mapping(n, p), Mapping::ReadWrite);
  c.store(n, p, 0, v);
}

void read(ModelCluster& c, NodeId n, PageNumber p) {
  c.fault(n, p, Access::Read);
  c.deliver_all();
  ASSERT_NE(c.mapping(n, p), Mapping::None);
}

// Page 0 (value 1, home 0) read-only at nodes 0..nodes-1.
ModelCluster shared_everywhere(uint32_t nodes) {
  ModelCluster c = make(nodes);
  c.fault(0, 0, Access::Write);
  c.store(0, 0, 0, 1);
  for (NodeId n = 1; n < nodes; ++n) {
    c.fault(n, 0, Access::Read);
    c.deliver_all();
  }
  return c;
}

void deliver(ModelCluster& c, MessageType type, NodeId to) {
  size_t i = c.find(type, to);
  ASSERT_NE(i, ModelCluster::npos) << to_string(type) << " to " << to;
  c.deliver(i);
}

// The home's directory of page p, at rest.
void expect_directory(const ModelCluster& c, PageNumber p, NodeSet holders, bool exclusive) {
  auto dir = c.node(static_cast<NodeId>(p % c.nodes())).directory(p);
  ASSERT_TRUE(dir);
  EXPECT_EQ(dir->holders, holders);
  EXPECT_EQ(dir->exclusive, exclusive);
  EXPECT_FALSE(dir->busy);
}

void expect_clean(const ModelCluster& c) {
  EXPECT_TRUE(c.errors().empty()) << c.errors().front().what;
  EXPECT_TRUE(c.violations().empty()) << c.violations().front();
}

}  // namespace

TEST(DsmProtocol, RejectsBadConstruction) {
  auto home = [](PageNumber) { return NodeId{0}; };
  EXPECT_THROW(NodeProtocol(0, 0, home), std::invalid_argument);
  EXPECT_THROW(NodeProtocol(0, kMaxNodes + 1, home), std::invalid_argument);
  EXPECT_THROW(NodeProtocol(3, 3, home), std::invalid_argument);
  EXPECT_THROW(NodeProtocol(0, 2, nullptr), std::invalid_argument);
}

TEST(DsmProtocol, ZeroPageAtHomeNeedsNoMessage) {
  ModelCluster c = make(2);
  c.fault(0, 0, Access::Write);
  EXPECT_TRUE(c.network().empty());
  EXPECT_EQ(c.mapping(0, 0), Mapping::ReadWrite);
  EXPECT_EQ(load(c, 0, 0), 0u);
  EXPECT_EQ(c.node(0).state(0), PageState::Exclusive);
  EXPECT_EQ(c.node(0).counters().zero_fills, 1u);
  EXPECT_EQ(c.node(0).counters().messages_sent, 0u);
  auto wakes = c.take_wakes();
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].page, 0u);
  expect_clean(c);
}

TEST(DsmProtocol, ZeroPageRemoteAsksTheHomeAndGetsNoBytes) {
  ModelCluster c = make(2);
  c.fault(1, 0, Access::Read);
  ASSERT_EQ(c.network().size(), 1u);
  EXPECT_EQ(c.network()[0].type, MessageType::Request);
  deliver(c, MessageType::Request, 0);
  ASSERT_EQ(c.network().size(), 1u);
  EXPECT_TRUE(c.network()[0].zero_page());
  EXPECT_TRUE(c.network()[0].payload.empty());
  c.deliver_all();
  EXPECT_EQ(c.mapping(1, 0), Mapping::ReadOnly);
  EXPECT_EQ(load(c, 1, 0), 0u);
  EXPECT_EQ(c.totals().bytes_sent, 0u);
  expect_directory(c, 0, 0b10, false);
  expect_clean(c);
}

TEST(DsmProtocol, ReadMissGetsTheHomesBytesAndDowngradesIt) {
  ModelCluster c = make(2);
  write(c, 0, 0, 42);
  read(c, 1, 0);
  EXPECT_EQ(load(c, 1, 0), 42u);
  EXPECT_EQ(c.mapping(0, 0), Mapping::ReadOnly);  // write-protected before its bytes were read
  EXPECT_EQ(c.node(0).counters().pages_sent, 1u);
  EXPECT_EQ(c.node(1).counters().pages_received, 1u);
  EXPECT_EQ(c.node(1).counters().read_faults, 1u);
  expect_clean(c);
}

TEST(DsmProtocol, DowngradeWriteProtectsBeforeReadingTheBytes) {
  ModelCluster c = make(3);
  write(c, 2, 0, 7);  // owner 2, home 0
  c.fault(1, 0, Access::Read);
  deliver(c, MessageType::Request, 0);
  size_t i = c.find(MessageType::Forward, 2);
  ASSERT_NE(i, ModelCluster::npos);
  std::vector<Action> out;
  c.node(2).on_message(c.network()[i], out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<WriteProtect>(out[0]));
  auto* send = std::get_if<SendMessage>(&out[1]);
  ASSERT_TRUE(send);
  EXPECT_TRUE(send->attach_page);
  EXPECT_EQ(send->message.type, MessageType::Data);
  EXPECT_EQ(send->message.destination, 1u);
  EXPECT_EQ(c.node(2).state(0), PageState::Shared);
}

TEST(DsmProtocol, ReadMissForwardedToAThirdNodeOwner) {
  ModelCluster c = make(3);
  write(c, 2, 0, 9);
  read(c, 1, 0);
  EXPECT_EQ(load(c, 1, 0), 9u);
  EXPECT_EQ(c.mapping(2, 0), Mapping::ReadOnly);
  EXPECT_EQ(c.node(2).counters().pages_sent, 1u);
  EXPECT_EQ(c.node(0).counters().pages_sent, 0u);  // the home moved no bytes
  expect_directory(c, 0, 0b110, false);
  expect_clean(c);
}

TEST(DsmProtocol, WriteMissTakesPageAndOwnershipFromTheOwner) {
  ModelCluster c = make(3);
  write(c, 2, 0, 5);
  write(c, 1, 0, 6);
  EXPECT_EQ(c.mapping(2, 0), Mapping::None);
  EXPECT_EQ(c.node(2).state(0), PageState::Invalid);
  EXPECT_EQ(c.node(1).state(0), PageState::Exclusive);
  EXPECT_EQ(c.node(2).counters().invalidations_received, 1u);
  read(c, 0, 0);
  EXPECT_EQ(load(c, 0, 0), 6u);
  expect_clean(c);
}

TEST(DsmProtocol, UpgradeSharedToExclusiveMovesNoBytes) {
  ModelCluster c = shared_everywhere(3);
  uint64_t pages_before = c.totals().pages_sent;
  write(c, 1, 0, 4);
  EXPECT_EQ(c.totals().pages_sent, pages_before);
  EXPECT_EQ(c.mapping(0, 0), Mapping::None);
  EXPECT_EQ(c.mapping(2, 0), Mapping::None);
  EXPECT_EQ(c.node(0).counters().invalidations_sent, 2u);  // node 2 and itself
  expect_clean(c);
}

TEST(DsmProtocol, WriteWaitsForEveryInvalidationAck) {
  constexpr uint32_t kNodes = 8;
  ModelCluster c = shared_everywhere(kNodes);
  c.fault(3, 0, Access::Write);
  deliver(c, MessageType::Request, 0);
  deliver(c, MessageType::Grant, 3);
  // Every other sharer, the home included: it drops its own copy at once.
  EXPECT_EQ(c.node(0).counters().invalidations_sent, kNodes - 1);
  EXPECT_EQ(c.mapping(0, 0), Mapping::None);
  for (NodeId n = 1; n < kNodes; ++n) {
    if (n == 3) continue;
    EXPECT_NE(c.mapping(3, 0), Mapping::ReadWrite) << "writable before every ack";
    deliver(c, MessageType::Invalidate, n);
    EXPECT_EQ(c.mapping(n, 0), Mapping::None);
  }
  for (uint32_t acks = 1; acks < kNodes - 2; ++acks) {
    deliver(c, MessageType::Ack, 3);
    EXPECT_NE(c.mapping(3, 0), Mapping::ReadWrite) << "writable before every ack";
  }
  deliver(c, MessageType::Ack, 3);
  EXPECT_EQ(c.mapping(3, 0), Mapping::ReadWrite);
  c.deliver_all();
  expect_directory(c, 0, NodeSet{1} << 3, true);
  expect_clean(c);
}

TEST(DsmProtocol, AcksBeforeTheGrantAreKept) {
  ModelCluster c = shared_everywhere(3);
  c.fault(1, 0, Access::Write);
  deliver(c, MessageType::Request, 0);
  deliver(c, MessageType::Invalidate, 2);
  deliver(c, MessageType::Ack, 1);  // before the Grant
  EXPECT_EQ(c.node(1).counters().early_replies, 1u);
  EXPECT_EQ(c.mapping(1, 0), Mapping::ReadOnly);
  deliver(c, MessageType::Grant, 1);
  EXPECT_EQ(c.mapping(1, 0), Mapping::ReadWrite);
  c.deliver_all();
  expect_clean(c);
}

TEST(DsmProtocol, RequestOvertakingItsOwnDoneIsQueued) {
  ModelCluster c = make(2);
  c.fault(1, 0, Access::Read);
  deliver(c, MessageType::Request, 0);
  deliver(c, MessageType::Grant, 1);
  ASSERT_EQ(c.mapping(1, 0), Mapping::ReadOnly);
  c.fault(1, 0, Access::Write);
  deliver(c, MessageType::Request, 0);  // the Done is still on its way
  EXPECT_EQ(c.node(0).directory(0)->queued, 1u);
  deliver(c, MessageType::Done, 0);
  c.deliver_all();
  EXPECT_EQ(c.mapping(1, 0), Mapping::ReadWrite);
  expect_clean(c);
}

TEST(DsmProtocol, DuplicateFaultsAreCoalesced) {
  ModelCluster c = make(2);
  c.fault(1, 0, Access::Read);
  c.fault(1, 0, Access::Read);
  c.fault(1, 0, Access::Write);  // asked for once the read is in
  EXPECT_EQ(c.network().size(), 1u);
  EXPECT_EQ(c.node(1).counters().coalesced_faults, 2u);
  c.deliver_all();
  EXPECT_EQ(c.mapping(1, 0), Mapping::ReadWrite);
  EXPECT_EQ(c.take_wakes().size(), 2u);  // after the read, after the write
  c.fault(1, 0, Access::Read);           // raced with the mapping: only a wake
  EXPECT_EQ(c.node(1).counters().spurious_faults, 1u);
  EXPECT_TRUE(c.network().empty());
  expect_clean(c);
}

TEST(DsmProtocol, FaultWhileAnInvalidationIsInFlight) {
  ModelCluster c = make(3);
  write(c, 0, 0, 1);
  read(c, 1, 0);
  c.fault(2, 0, Access::Write);
  deliver(c, MessageType::Request, 0);
  // Node 1 still holds its copy; its own write fault races the Invalidate.
  c.fault(1, 0, Access::Write);
  deliver(c, MessageType::Request, 0);
  deliver(c, MessageType::Invalidate, 1);
  EXPECT_EQ(c.mapping(1, 0), Mapping::None);
  EXPECT_TRUE(c.node(1).pending(0));
  deliver(c, MessageType::Ack, 2);
  deliver(c, MessageType::Grant, 2);
  ASSERT_EQ(c.mapping(2, 0), Mapping::ReadWrite);
  c.store(2, 0, 0, 77);
  // Node 1's request was queued behind node 2's and runs after its Done; it
  // no longer holds a copy, so node 2 must send the bytes.
  c.deliver_all();
  EXPECT_EQ(c.mapping(1, 0), Mapping::ReadWrite);
  EXPECT_EQ(c.mapping(2, 0), Mapping::None);
  EXPECT_EQ(load(c, 1, 0), 77u);
  expect_clean(c);
}

TEST(DsmProtocol, HomeFaultsWhileARemoteTransactionRuns) {
  ModelCluster c = make(2);
  write(c, 1, 0, 11);  // page 0's home is node 0, owned by node 1
  c.fault(1, 0, Access::Read);  // permitted: only a wake
  c.fault(0, 0, Access::Read);
  c.fault(0, 0, Access::Write);
  c.deliver_all();
  EXPECT_EQ(c.mapping(0, 0), Mapping::ReadWrite);
  EXPECT_EQ(c.mapping(1, 0), Mapping::None);
  EXPECT_EQ(load(c, 0, 0), 11u);
  expect_clean(c);
}

TEST(DsmProtocol, FirstTouchAtTheHomeClaimsTheUntouchedRunThatFollows) {
  // Pages 0..7 are homed on node 0, pages 8..11 on node 1; pages 12.. exist nowhere.
  auto home = [](PageNumber p) -> NodeId { return p < 8 ? 0 : p < 12 ? 1 : kMaxNodes; };
  ModelCluster c(2, 12, home, Options{.claim = 3});
  write(c, 1, 2, 5);  // node 1 asks the home for page 2: no claim, it is not node 1's home
  EXPECT_EQ(c.node(1).counters().claims, 0u);
  read(c, 0, 0);  // a read of an untouched home page: Exclusive, and page 1; page 2 is touched
  EXPECT_EQ(c.mapping(0, 0), Mapping::ReadWrite);
  EXPECT_EQ(c.mapping(0, 1), Mapping::ReadWrite);
  EXPECT_EQ(c.node(0).counters().claims, 1u);
  read(c, 0, 3);  // claims 4, 5, 6
  for (PageNumber p = 3; p < 7; ++p) EXPECT_EQ(c.mapping(0, p), Mapping::ReadWrite) << p;
  EXPECT_EQ(c.mapping(0, 7), Mapping::None);
  EXPECT_EQ(c.node(0).counters().claims, 4u);
  read(c, 0, 7);  // the run ends where node 1's home begins
  EXPECT_EQ(c.node(0).counters().claims, 4u);
  read(c, 1, 8);  // node 1's first touch of its own page claims 9..11 and stops at 12
  EXPECT_EQ(c.node(1).counters().claims, 4u - 1u);
  EXPECT_EQ(c.mapping(1, 11), Mapping::ReadWrite);
  read(c, 1, 4);  // a claimed page is an ordinary Exclusive page: node 0 supplies it
  EXPECT_EQ(c.mapping(0, 4), Mapping::ReadOnly);
  EXPECT_EQ(load(c, 1, 4), 0u);
  EXPECT_EQ(c.node(0).counters().messages_sent, 2u);  // the Grants of pages 2 and 4
  expect_clean(c);
}

TEST(DsmProtocol, PreallocatedPagesStartHeldByTheirHome) {
  ModelCluster c = make(2, 4, Options{.claim = 8, .preallocate = true});
  for (PageNumber p = 0; p < 4; ++p) {
    NodeId home = static_cast<NodeId>(p % 2);
    EXPECT_EQ(c.mapping(home, p), Mapping::ReadWrite) << p;
    EXPECT_EQ(c.mapping(1 - home, p), Mapping::None) << p;
    EXPECT_EQ(c.node(home).state(p), PageState::Exclusive) << p;
    EXPECT_TRUE(c.node(home).starts_held(p));
    EXPECT_FALSE(c.node(1 - home).starts_held(p));
    expect_directory(c, p, NodeSet{1} << home, true);
  }
  c.store(0, 0, 0, 7);  // the home writes without a fault
  c.fault(0, 2, Access::Write);  // a thread that raced with nothing: only woken
  EXPECT_TRUE(c.network().empty());
  EXPECT_EQ(c.node(0).counters().spurious_faults, 1u);
  EXPECT_EQ(c.node(0).counters().claims, 0u);  // nothing untouched to claim
  expect_clean(c);
}

TEST(DsmProtocol, PreallocatedPageGoesToAnotherNodeWithTheHomesBytes) {
  ModelCluster c = make(2, 4, Options{.preallocate = true});
  c.store(0, 0, 0, 42);  // no fault: the home never told the protocol
  read(c, 1, 0);
  EXPECT_EQ(load(c, 1, 0), 42u);  // the bytes, not a zero Grant
  EXPECT_EQ(c.mapping(0, 0), Mapping::ReadOnly);
  EXPECT_EQ(c.node(0).counters().pages_sent, 1u);
  EXPECT_EQ(c.node(0).counters().zero_fills + c.node(1).counters().zero_fills, 0u);
  expect_directory(c, 0, 0b11, false);
  write(c, 1, 2, 9);  // a write takes the page: the home drops its copy
  EXPECT_EQ(c.mapping(0, 2), Mapping::None);
  EXPECT_EQ(c.node(0).state(2), PageState::Invalid);
  expect_directory(c, 2, 0b10, true);
  write(c, 0, 2, 10);  // and gets it back like any page it does not hold
  EXPECT_EQ(c.mapping(1, 2), Mapping::None);
  EXPECT_EQ(load(c, 0, 2), 10u);
  expect_directory(c, 2, 0b01, true);
  expect_clean(c);
}

TEST(DsmProtocol, PrefetchOnTheSameHomeOnlyAndWritesOnlyUntouchedLocalPages) {
  // Pages 0..5 are homed on node 1, pages 6..7 on node 0; pages 8.. exist nowhere.
  auto home = [](PageNumber p) -> NodeId { return p < 6 ? 1 : p < 8 ? 0 : kMaxNodes; };
  ModelCluster c(2, 8, home, Options{.prefetch = 2});
  for (PageNumber p = 0; p < 6; ++p) write(c, 1, p, 100 + p);
  // Node 1's first writes (home 1, untouched) took the next two pages too.
  EXPECT_EQ(c.node(1).counters().prefetches, 4u);
  EXPECT_EQ(c.node(1).counters().write_faults, 2u);
  EXPECT_EQ(c.node(1).counters().messages_sent, 0u);
  read(c, 0, 0);  // and pages 1, 2 ahead
  for (PageNumber p = 0; p < 3; ++p) {
    EXPECT_EQ(c.mapping(0, p), Mapping::ReadOnly) << p;
    EXPECT_EQ(load(c, 0, p), 100 + p);
    EXPECT_EQ(c.mapping(1, p), Mapping::ReadOnly) << p;  // the owner was downgraded as for any read
  }
  EXPECT_EQ(c.mapping(0, 3), Mapping::None);
  EXPECT_EQ(c.node(0).counters().prefetches, 2u);
  read(c, 0, 2);  // mapped already: no request, no read-ahead
  EXPECT_EQ(c.node(0).counters().prefetches, 2u);
  write(c, 0, 4, 7);  // write misses do not read ahead
  EXPECT_EQ(c.node(0).counters().prefetches, 2u);
  read(c, 0, 3);  // page 4 is held, page 5 is fetched
  EXPECT_EQ(c.mapping(0, 5), Mapping::ReadOnly);
  EXPECT_EQ(c.node(0).counters().prefetches, 3u);
  read(c, 1, 6);  // stops at page 8, which has no home
  EXPECT_EQ(c.mapping(1, 7), Mapping::ReadOnly);
  EXPECT_EQ(c.node(1).counters().prefetches, 5u);
  read(c, 1, 7);
  // A write miss at the home does not take page 7 from node 1, which holds it.
  write(c, 0, 6, 9);
  EXPECT_EQ(c.mapping(1, 7), Mapping::ReadOnly);
  EXPECT_EQ(c.node(0).counters().prefetches, 3u);
  expect_clean(c);
}
