// Messages that do not fit the protocol are rejected with the peer named and
// change nothing.
#include <gtest/gtest.h>

#include <string>

#include "dsm/model_cluster.hpp"
#include "dsm/protocol.hpp"

using namespace amalgam::dsm;

namespace {

// Three nodes; page p's home is node p % 3. Node 0 is the one under test.
class DsmValidation : public ::testing::Test {
 protected:
  NodeProtocol node{0, 3, [](PageNumber p) { return static_cast<NodeId>(p % 3); }};
  std::vector<Action> out;

  static Message from(NodeId sender, MessageType type, PageNumber page, RequestId request = 1) {
    Message m;
    m.type = type;
    m.page = page;
    m.request = request;
    m.sender = sender;
    m.destination = 0;
    m.requester = sender;
    return m;
  }

  // The message was rejected, the error names `peer`, and nothing else happened.
  void expect_rejected(const Message& m, NodeId peer, const std::string& words) {
    out.clear();
    uint64_t errors = node.counters().protocol_errors;
    node.on_message(m, out);
    ASSERT_EQ(out.size(), 1u) << "expected only an error for " << to_string(m.type);
    auto* e = std::get_if<ProtocolError>(&out[0]);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->peer, peer);
    EXPECT_NE(e->what.find("node " + std::to_string(peer)), std::string::npos) << e->what;
    EXPECT_NE(e->what.find(words), std::string::npos) << e->what;
    EXPECT_EQ(node.counters().protocol_errors, errors + 1);
  }
};

}  // namespace

TEST_F(DsmValidation, EnvelopeChecks) {
  expect_rejected(from(7, MessageType::Ack, 0), 7, "is no node");
  expect_rejected(from(0, MessageType::Ack, 0), 0, "from this node");
  Message wrong_dest = from(1, MessageType::Ack, 0);
  wrong_dest.destination = 2;
  expect_rejected(wrong_dest, 1, "for node 2");
  Message bad_type = from(1, MessageType::Ack, 0);
  bad_type.type = static_cast<MessageType>(99);
  expect_rejected(bad_type, 1, "unknown message type");
  Message short_data = from(1, MessageType::Data, 0);
  short_data.payload.resize(100);
  expect_rejected(short_data, 1, "payload of 100 bytes");
  Message ack_with_bytes = from(2, MessageType::Ack, 0);
  ack_with_bytes.payload.resize(kPageSize);
  expect_rejected(ack_with_bytes, 2, "payload");
}

TEST_F(DsmValidation, RepliesNobodyAskedFor) {
  expect_rejected(from(1, MessageType::Ack, 0), 1, "unexpected Ack");
  Message data = from(2, MessageType::Data, 1);
  data.payload.resize(kPageSize);
  expect_rejected(data, 2, "unexpected Data");
  Message grant = from(1, MessageType::Grant, 1);  // page 1's home is node 1
  grant.requester = 0;
  expect_rejected(grant, 1, "unexpected Grant");
  Message fake_grant = from(2, MessageType::Grant, 1);
  fake_grant.requester = 0;
  expect_rejected(fake_grant, 2, "not the home");
  expect_rejected(from(1, MessageType::Done, 0), 1, "unexpected Done");
}

TEST_F(DsmValidation, OrdersForPagesThisNodeDoesNotHold) {
  Message inv = from(1, MessageType::Invalidate, 1);
  inv.requester = 2;
  expect_rejected(inv, 1, "does not hold");
  Message fwd = from(2, MessageType::Forward, 2);
  fwd.requester = 1;
  expect_rejected(fwd, 2, "does not hold");
  Message not_home = from(2, MessageType::Invalidate, 1);  // page 1's home is 1
  not_home.requester = 1;
  expect_rejected(not_home, 2, "not the home");
  EXPECT_EQ(node.state(1), PageState::Invalid);
}

TEST_F(DsmValidation, RequestsTheHomeCannotAccept) {
  expect_rejected(from(1, MessageType::Request, 1), 1, "not the home");
  Message proxy = from(1, MessageType::Request, 0);
  proxy.requester = 2;
  expect_rejected(proxy, 1, "on behalf of another node");

  // Node 1 reads page 0 (homed here): granted at once, Done outstanding.
  out.clear();
  node.on_message(from(1, MessageType::Request, 0, 5), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(node.directory(0)->busy);
  expect_rejected(from(1, MessageType::Request, 0, 5), 1, "stale or repeated Request 5");
  // Its next request may overtake the Done, once.
  out.clear();
  node.on_message(from(1, MessageType::Request, 0, 6), out);
  EXPECT_TRUE(out.empty());
  expect_rejected(from(1, MessageType::Request, 0, 7), 1, "second Request");
  expect_rejected(from(2, MessageType::Done, 0, 5), 2, "unexpected Done");
  // Done for 5 starts 6, which is a read Request from a node that holds the page.
  out.clear();
  node.on_message(from(1, MessageType::Done, 0, 5), out);
  ASSERT_EQ(out.size(), 1u);
  auto* e = std::get_if<ProtocolError>(&out[0]);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->peer, 1u);
  EXPECT_FALSE(node.directory(0)->busy);
}

TEST_F(DsmValidation, GrantThatDoesNotMatchTheRequest) {
  out.clear();
  node.on_fault(1, Access::Read, out);  // Request to node 1, request id 1
  Message grant = from(1, MessageType::Grant, 1, 1);
  grant.requester = 0;
  grant.access = Access::Write;
  expect_rejected(grant, 1, "wrong access");
  grant.access = Access::Read;
  grant.source = DataSource::Keep;
  expect_rejected(grant, 1, "does not hold");
  grant.source = DataSource::Peer;
  grant.peers = 0b100;
  grant.supplier = 1;
  expect_rejected(grant, 1, "supplier is not among its peers");
  grant.peers = 0b001;
  expect_rejected(grant, 1, "bad peers");
  grant.source = DataSource::Zero;
  grant.peers = 0;
  grant.request = 2;
  expect_rejected(grant, 1, "unexpected Grant for request 2");
  EXPECT_TRUE(node.pending(1));
  // An Ack from node 2 before the Grant is kept, then found to be no peer's.
  out.clear();
  Message ack = from(2, MessageType::Ack, 1, 1);
  ack.requester = 0;
  node.on_message(ack, out);
  EXPECT_TRUE(out.empty());
  grant.request = 1;
  expect_rejected(grant, 2, "no peer");
}
