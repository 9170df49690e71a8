#include "net/in_process_transport.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <utility>

namespace amalgam::net {

namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  NodeId from;
  std::vector<uint8_t> bytes;
};

struct Mailbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::pair<Clock::time_point, uint64_t>, Pending> frames;  // by due time, then arrival
  uint64_t next_seq = 0;
  bool closed = false;
  bool woken = false;
};

}  // namespace

struct InProcessTransport::Hub {
  explicit Hub(uint32_t nodes, Options o) : mailboxes(nodes), options(o), random(o.seed) {}
  std::vector<Mailbox> mailboxes;
  Options options;
  std::mutex random_mutex;
  std::mt19937_64 random;

  Clock::duration delay() {
    if (options.max_delay.count() <= 0) return {};
    std::lock_guard lock(random_mutex);
    return std::chrono::microseconds(
        std::uniform_int_distribution<int64_t>(0, options.max_delay.count())(random));
  }
};

std::vector<std::unique_ptr<InProcessTransport>> InProcessTransport::create(uint32_t nodes, Options options) {
  if (nodes == 0) throw std::invalid_argument("in-process transport needs at least one node");
  auto hub = std::make_shared<Hub>(nodes, options);
  std::vector<std::unique_ptr<InProcessTransport>> out;
  for (NodeId n = 0; n < nodes; ++n) out.emplace_back(new InProcessTransport(hub, n));
  return out;
}

InProcessTransport::~InProcessTransport() { close(); }

uint32_t InProcessTransport::node_count() const { return static_cast<uint32_t>(hub_->mailboxes.size()); }

void InProcessTransport::send(NodeId to, std::vector<uint8_t> frame) {
  check_send(to, frame);
  {
    Mailbox& mine = hub_->mailboxes[self_];
    std::lock_guard lock(mine.mutex);
    if (mine.closed) throw TransportError(fmt::format("node {}: send to node {} after close", self_, to));
  }
  auto due = Clock::now() + hub_->delay();
  Mailbox& box = hub_->mailboxes[to];
  {
    std::lock_guard lock(box.mutex);
    if (box.closed) throw TransportError(fmt::format("node {}: closed, frame from node {} not delivered", to, self_));
    box.frames.emplace(std::pair(due, box.next_seq++), Pending{self_, std::move(frame)});
  }
  box.changed.notify_one();
}

bool InProcessTransport::poll(std::chrono::milliseconds timeout, const FrameHandler& on_frame) {
  Mailbox& box = hub_->mailboxes[self_];
  auto deadline = Clock::now() + timeout;
  std::vector<Pending> ready;
  {
    std::unique_lock lock(box.mutex);
    for (;;) {
      if (box.closed) return false;
      auto now = Clock::now();
      while (!box.frames.empty() && box.frames.begin()->first.first <= now) {
        ready.push_back(std::move(box.frames.begin()->second));
        box.frames.erase(box.frames.begin());
      }
      if (!ready.empty() || std::exchange(box.woken, false) || now >= deadline) break;
      auto until = deadline;
      if (!box.frames.empty()) until = std::min(until, box.frames.begin()->first.first);
      box.changed.wait_until(lock, until);
    }
  }
  for (const Pending& p : ready) on_frame(p.from, p.bytes);
  return true;
}

void InProcessTransport::wakeup() {
  Mailbox& box = hub_->mailboxes[self_];
  {
    std::lock_guard lock(box.mutex);
    box.woken = true;
  }
  box.changed.notify_all();
}

void InProcessTransport::close() {
  Mailbox& box = hub_->mailboxes[self_];
  {
    std::lock_guard lock(box.mutex);
    box.closed = true;
    box.frames.clear();
  }
  box.changed.notify_all();
}

}  // namespace amalgam::net
