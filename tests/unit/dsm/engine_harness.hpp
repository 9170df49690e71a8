// Several DSM engines in one process: each "node" has its own anonymous
// mappings of guest RAM (two ranges, at guest-physical 0 and 4 GiB) and its
// own engine, and the engines talk through an in-test message bus.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/mapping.hpp"
#include "dsm/engine.hpp"

namespace amalgam::dsm::testing {

// Carries messages between the engines of one process.
class Bus {
 public:
  enum class Mode {
    Direct,    // deliver() on the sender's fault thread
    Shuffled,  // a bus thread delivers a random pending message, now and then after a pause
    Drop,      // nothing arrives
  };

  Bus(Mode mode, uint64_t seed) : mode_(mode), rng_(seed) {
    if (mode_ == Mode::Shuffled) thread_ = std::thread([this] { shuffle(); });
  }
  ~Bus() { stop(); }

  void attach(std::vector<DsmEngine*> engines) { engines_ = std::move(engines); }

  void send(NodeId to, const Message& m) {
    std::unique_lock lock(mutex_);
    ++sent_[m.sender];
    if (mode_ == Mode::Drop) return;
    if (mode_ == Mode::Direct) {
      lock.unlock();
      engines_.at(to)->deliver(m);
      return;
    }
    pending_.push_back({to, m});
    ready_.notify_one();
  }

  uint64_t sent_by(NodeId n) {
    std::lock_guard lock(mutex_);
    return sent_[n];
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      ready_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Pending {
    NodeId to;
    Message message;
  };

  void shuffle() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ready_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (stopping_) return;
      uint64_t pause_us = rng_() % 4 == 0 ? rng_() % 40 : 0;
      if (pause_us) {  // let more messages come, to deliver them out of order
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
        lock.lock();
      }
      size_t i = rng_() % pending_.size();
      Pending p = std::move(pending_[i]);
      pending_[i] = std::move(pending_.back());
      pending_.pop_back();
      lock.unlock();
      engines_.at(p.to)->deliver(std::move(p.message));
      lock.lock();
    }
  }

  Mode mode_;
  std::mt19937_64 rng_;
  std::vector<DsmEngine*> engines_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<Pending> pending_;
  uint64_t sent_[kMaxNodes] = {};
  bool stopping_ = false;
  std::thread thread_;
};

struct RecordedError {
  NodeId node;  // whose engine reported it
  ProtocolError error;
};

// Page p's home is node p % nodes; pages outside both ranges have none.
class EngineCluster {
 public:
  static constexpr uint64_t kHighGpa = 4ull << 30;

  // hold: DsmEngine::set_hold() of every engine.
  explicit EngineCluster(uint32_t nodes, Bus::Mode mode = Bus::Mode::Direct, uint64_t seed = 1,
                         size_t pages_per_range = 32, Options options = {},
                         std::chrono::nanoseconds hold = std::chrono::nanoseconds{0})
      : bus_(mode, seed), pages_per_range_(pages_per_range) {
    std::vector<DsmEngine*> engines;
    for (NodeId n = 0; n < nodes; ++n) {
      auto node = std::make_unique<Node>();
      node->low = Mapping::anonymous(pages_per_range * kPageSize);
      node->high = Mapping::anonymous(pages_per_range * kPageSize);
      std::vector<memory::HostSlot> ranges{{0, node->low.size(), node->low.data()},
                                           {kHighGpa, node->high.size(), node->high.data()}};
      auto home = [nodes, pages_per_range](PageNumber p) {
        bool ram = p < pages_per_range || (p >= (kHighGpa >> 12) && p - (kHighGpa >> 12) < pages_per_range);
        return ram ? static_cast<NodeId>(p % nodes) : kMaxNodes;
      };
      NodeProtocol protocol(n, nodes, home, options);
      node->engine = std::make_unique<DsmEngine>(
          std::move(ranges), std::move(protocol), [this](NodeId to, const Message& m) { bus_.send(to, m); },
          [this, n](const ProtocolError& e) {
            std::lock_guard lock(errors_mutex_);
            errors_.push_back({n, e});
          });
      engines.push_back(node->engine.get());
      nodes_.push_back(std::move(node));
    }
    bus_.attach(engines);
    for (auto& node : nodes_) {
      node->engine->set_hold(hold);
      node->engine->start();
    }
  }

  ~EngineCluster() {
    bus_.stop();
    for (auto& node : nodes_) node->engine->stop();
  }

  size_t pages() const { return 2 * pages_per_range_; }
  // Page `index` (0 .. pages()-1) in node n's mapping.
  uint8_t* at(NodeId n, size_t index) {
    Node& node = *nodes_.at(n);
    return index < pages_per_range_ ? node.low.data() + index * kPageSize
                                    : node.high.data() + (index - pages_per_range_) * kPageSize;
  }
  PageNumber page_of(size_t index) const {
    return index < pages_per_range_ ? index : (kHighGpa >> 12) + (index - pages_per_range_);
  }
  NodeId home_of(size_t index) const { return static_cast<NodeId>(page_of(index) % nodes_.size()); }

  DsmEngine& engine(NodeId n) { return *nodes_.at(n)->engine; }
  // Node n's counters once it has handled everything that reached it.
  EngineStats settled_stats(NodeId n) {
    engine(n).sync();
    return engine(n).stats();
  }
  Bus& bus() { return bus_; }

  std::vector<RecordedError> errors() {
    std::lock_guard lock(errors_mutex_);
    return errors_;
  }
  // Waits up to 5 s for at least `count` errors.
  std::vector<RecordedError> wait_for_errors(size_t count) {
    for (int i = 0; i < 5000 && errors().size() < count; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return errors();
  }

 private:
  struct Node {
    Mapping low, high;
    std::unique_ptr<DsmEngine> engine;
  };

  Bus bus_;
  size_t pages_per_range_;
  std::mutex errors_mutex_;
  std::vector<RecordedError> errors_;
  std::vector<std::unique_ptr<Node>> nodes_;  // destroyed before the bus
};

inline uint64_t load(const uint8_t* p) { return *reinterpret_cast<const volatile uint64_t*>(p); }
inline void store(uint8_t* p, uint64_t v) { *reinterpret_cast<volatile uint64_t*>(p) = v; }

// Runs fn(node, thread) on `threads` threads per node, all let go at once,
// and joins them.
template <typename Fn>
void on_every_node(uint32_t nodes, uint32_t threads, Fn fn) {
  std::vector<std::thread> workers;
  std::latch start(nodes * threads);
  for (NodeId n = 0; n < nodes; ++n)
    for (uint32_t t = 0; t < threads; ++t)
      workers.emplace_back([&fn, &start, n, t] {
        start.arrive_and_wait();
        fn(n, t);
      });
  for (auto& w : workers) w.join();
}

}  // namespace amalgam::dsm::testing
