// N connected endpoints inside one process, for tests and simulations: each
// node has a mailbox (mutex + condition variable) that the others append to.
// With max_delay > 0 every frame is held back a random time (from a seeded
// generator) and delivered in order of its due time, so frames overtake one
// another the way they may on a real network.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/transport.hpp"

namespace amalgam::net {

class InProcessTransport : public Transport {
 public:
  struct Options {
    std::chrono::microseconds max_delay{0};
    uint64_t seed = 1;
  };

  // Endpoints for nodes 0 to nodes-1; they share one hub.
  static std::vector<std::unique_ptr<InProcessTransport>> create(uint32_t nodes, Options options);
  static std::vector<std::unique_ptr<InProcessTransport>> create(uint32_t nodes) { return create(nodes, {}); }

  ~InProcessTransport() override;

  NodeId self() const override { return self_; }
  uint32_t node_count() const override;
  void send(NodeId to, std::vector<uint8_t> frame) override;
  bool poll(std::chrono::milliseconds timeout, const FrameHandler& on_frame) override;
  void wakeup() override;
  void close() override;

  struct Hub;

 private:
  InProcessTransport(std::shared_ptr<Hub> hub, NodeId self) : hub_(std::move(hub)), self_(self) {}
  std::shared_ptr<Hub> hub_;
  NodeId self_;
};

}  // namespace amalgam::net
