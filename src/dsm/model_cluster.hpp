// A model of N nodes' engines around their NodeProtocols, for tests, the
// simulator and benchmarks. Per node and page it keeps what the engine would:
// the mapping (none, read-only, read-write) and the bytes. Actions are carried
// out the way an engine must carry them out, in order, and misuse (bytes read
// from a still-writable page, protection changed on an unmapped page, a
// message from the wrong sender) is recorded as a violation. Messages wait in
// one pool; the caller chooses which one is delivered next, so any order can
// be produced, and may drop or duplicate one to model a faulty transport.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dsm/protocol.hpp"

namespace amalgam::dsm {

class ModelCluster {
 public:
  enum class Mapping : uint8_t { None, ReadOnly, ReadWrite };
  using Page = std::array<std::byte, kPageSize>;
  struct Wake {
    NodeId node;
    PageNumber page;
  };
  static constexpr size_t npos = static_cast<size_t>(-1);

  ModelCluster(uint32_t nodes, uint32_t pages, const NodeProtocol::HomeFunction& home_of,
               Options options = {});

  uint32_t nodes() const { return static_cast<uint32_t>(nodes_.size()); }
  uint32_t pages() const { return pages_; }
  NodeProtocol& node(NodeId n) { return *nodes_[n].protocol; }
  const NodeProtocol& node(NodeId n) const { return *nodes_[n].protocol; }
  Mapping mapping(NodeId n, PageNumber p) const { return nodes_[n].mapping[p]; }
  const Page& bytes(NodeId n, PageNumber p) const { return nodes_[n].memory[p]; }

  // A thread of node n stores `value` at `offset`; the page must be writable.
  void store(NodeId n, PageNumber p, size_t offset, uint64_t value);

  // Protocol events: a fault at a node, or the delivery of network()[index].
  void fault(NodeId n, PageNumber p, Access access);
  void deliver(size_t index);
  // Delivers the oldest message until none is left (or `limit` deliveries).
  void deliver_all(size_t limit = 1'000'000);
  const std::vector<Message>& network() const { return network_; }
  // Index of the oldest message of `type` to `destination`, or npos.
  size_t find(MessageType type, NodeId destination) const;
  // A faulty transport: network()[index] is lost, or a copy of it joins the
  // network as if sent again now. Neither is a protocol event.
  void drop(size_t index);
  void duplicate(size_t index);
  // Deliveries that overtook an earlier message from the same sender to the
  // same destination.
  uint64_t reordered() const { return reordered_; }

  // Wakes produced since the last call, for the caller to resume threads.
  std::vector<Wake> take_wakes();
  const std::vector<ProtocolError>& errors() const { return errors_; }
  const std::vector<std::string>& violations() const { return violations_; }

  // Pages whose mapping or bytes changed since the last clear_touched().
  const std::vector<PageNumber>& touched() const { return touched_; }
  void clear_touched();
  // Copies of a page outside any mapping: payloads on the network, and
  // payloads delivered to a requester that has not mapped them yet.
  uint32_t copies_in_transit(PageNumber p) const;

  uint64_t events() const { return events_; }
  uint64_t payloads_delivered() const { return payloads_delivered_; }
  Counters totals() const;

 private:
  struct Node {
    std::unique_ptr<NodeProtocol> protocol;
    std::vector<Mapping> mapping;
    std::vector<Page> memory;
    std::vector<uint8_t> holds_payload;  // delivered, not yet mapped
  };

  void execute(NodeId n, std::vector<Action>& actions);
  void post(Message m);
  Message take(size_t index);
  void touch(PageNumber p);
  void violation(NodeId n, PageNumber p, const std::string& what);

  uint32_t pages_;
  std::vector<Node> nodes_;
  std::vector<Message> network_;
  std::vector<uint64_t> sent_at_;  // per network_ entry: when it was sent, to count reorderings
  std::vector<uint32_t> payloads_in_flight_;  // per page
  std::vector<Wake> wakes_;
  std::vector<ProtocolError> errors_;
  std::vector<std::string> violations_;
  std::vector<PageNumber> touched_;
  std::vector<uint8_t> is_touched_;
  std::vector<Action> scratch_;
  uint64_t events_ = 0;
  uint64_t payloads_delivered_ = 0;
  uint64_t sends_ = 0;
  uint64_t reordered_ = 0;
};

}  // namespace amalgam::dsm
