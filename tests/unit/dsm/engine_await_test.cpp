// DsmEngine's AwaitFunction: a fault thread whose fault waits for another
// node takes the answer itself, on its own thread, instead of blocking.
// Two engines in one process; node 0's messages wait in a mailbox that only
// its await function empties (or the test, once it has given up), node 1's
// are delivered by a bus thread.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/mapping.hpp"
#include "dsm/engine.hpp"
#include "engine_harness.hpp"  // load(), store()

namespace amalgam::dsm::testing {
namespace {

using namespace std::chrono_literals;

constexpr size_t kPages = 8;  // every page homed on node 1

class AwaitingPair {
 public:
  // budget: how long node 0's await function waits for its mailbox.
  explicit AwaitingPair(std::chrono::milliseconds budget) : budget_(budget) {
    auto home = [](PageNumber p) { return p < kPages ? 1u : kMaxNodes; };
    for (NodeId n = 0; n < 2; ++n) {
      memory_[n] = Mapping::anonymous(kPages * kPageSize);
      DsmEngine::AwaitFunction await;
      if (n == 0) await = [this](const std::function<bool()>& answered) { await_on_node0(answered); };
      // Node 1's only counts: its bus thread delivers its messages anyway.
      if (n == 1)
        await = [this](const std::function<bool()>&) {
          std::lock_guard lock(mutex_);
          ++record_.node1_awaits;
        };
      engine_[n] = std::make_unique<DsmEngine>(
          std::vector<memory::HostSlot>{{0, kPages * kPageSize, memory_[n].data()}}, NodeProtocol(n, 2, home),
          [this](NodeId to, const Message& m) { send(to, m); },
          [this](const ProtocolError& e) {
            std::lock_guard lock(mutex_);
            errors_.push_back(e.what);
          },
          std::move(await));
    }
    bus_ = std::thread([this] { deliver_to_node1(); });
    for (auto& e : engine_) e->start();
  }
  ~AwaitingPair() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    bus_.join();
    for (auto& e : engine_) e->stop();
  }

  uint8_t* page(NodeId n, size_t i) { return memory_[n].data() + i * kPageSize; }
  // Hands node 0's next message to its engine from the calling thread;
  // false if none comes within 5 s.
  bool deliver_to_node0() {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, 5s, [this] { return !mailbox_[0].empty(); })) return false;
    Message m = std::move(mailbox_[0].front());
    mailbox_[0].pop_front();
    lock.unlock();
    engine_[0]->deliver(std::move(m));
    return true;
  }
  DsmEngine& engine(NodeId n) { return *engine_[n]; }

  struct Record {
    int awaits = 0;                 // calls of node 0's await function
    int node1_awaits = 0;           // calls of node 1's
    int answered = 0;  // of them, those that saw answered() turn true
    int taken = 0;     // messages it delivered
    bool sent_from_awaiting_thread = true;  // node 0's Done went out on the thread that awaited
    std::vector<std::string> errors;
  };
  Record record() {
    std::lock_guard lock(mutex_);
    Record r = record_;
    r.errors = errors_;
    return r;
  }

 private:
  void send(NodeId to, const Message& m) {
    std::lock_guard lock(mutex_);
    if (m.sender == 0 && m.type == MessageType::Done && awaiting_thread_ != std::this_thread::get_id())
      record_.sent_from_awaiting_thread = false;
    mailbox_[to].push_back(m);
    changed_.notify_all();
  }

  void await_on_node0(const std::function<bool()>& answered) {
    {
      std::lock_guard lock(mutex_);
      ++record_.awaits;
      awaiting_thread_ = std::this_thread::get_id();
    }
    auto until = std::chrono::steady_clock::now() + budget_;
    while (std::chrono::steady_clock::now() < until) {
      if (answered()) {
        std::lock_guard lock(mutex_);
        ++record_.answered;
        return;
      }
      std::unique_lock lock(mutex_);
      changed_.wait_until(lock, until, [this] { return !mailbox_[0].empty(); });
      if (mailbox_[0].empty()) break;
      Message m = std::move(mailbox_[0].front());
      mailbox_[0].pop_front();
      ++record_.taken;
      lock.unlock();
      engine_[0]->deliver(std::move(m));  // on the fault thread: taken inline
    }
  }

  void deliver_to_node1() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] { return stopping_ || !mailbox_[1].empty(); });
      if (stopping_) return;
      Message m = std::move(mailbox_[1].front());
      mailbox_[1].pop_front();
      lock.unlock();
      engine_[1]->deliver(std::move(m));
      lock.lock();
    }
  }

  std::chrono::milliseconds budget_;
  Mapping memory_[2];
  std::unique_ptr<DsmEngine> engine_[2];
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Message> mailbox_[2];
  bool stopping_ = false;
  std::thread::id awaiting_thread_;
  Record record_;
  std::vector<std::string> errors_;
  std::thread bus_;
};

TEST(DsmEngineAwait, TheFaultThreadTakesItsAnswerItselfWhileItWaits) {
  AwaitingPair pair(5000ms);
  std::thread([&] { store(pair.page(1, 3), 0x5eed); }).join();  // node 1 (the home) writes
  uint64_t rounds_before = pair.engine(0).stats().rounds;
  std::thread([&] { EXPECT_EQ(load(pair.page(0, 3)), 0x5eedu); }).join();  // node 0 reads: a remote read miss
  pair.engine(0).sync();
  auto r = pair.record();
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.awaits, 1);
  EXPECT_EQ(r.taken, 1);  // the Grant
  EXPECT_EQ(r.answered, 1);
  EXPECT_TRUE(r.sent_from_awaiting_thread);
  // One round for the fault and one for sync(): the Grant needed none.
  EXPECT_EQ(pair.engine(0).stats().rounds, rounds_before + 2);
  EXPECT_EQ(pair.engine(0).stats().copy_maps, 1u);
}

TEST(DsmEngineAwait, AFaultResolvedHereIsNotAwaited) {
  AwaitingPair pair(5000ms);
  // Node 1 is the home of every page: its first touches need no answer.
  std::thread([&] {
    store(pair.page(1, 0), 1);
    EXPECT_EQ(load(pair.page(1, 1)), 0u);
  }).join();
  pair.engine(1).sync();
  EXPECT_TRUE(pair.record().errors.empty());
  EXPECT_EQ(pair.record().node1_awaits, 0);
  // Against that: a page node 0 holds Exclusive, which node 1 must fetch.
  std::thread([&] { store(pair.page(0, 4), 9); }).join();
  std::thread reader([&] { EXPECT_EQ(load(pair.page(1, 4)), 9u); });
  EXPECT_TRUE(pair.deliver_to_node0());  // the Forward: node 0 sends its Data
  reader.join();
  auto r = pair.record();
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.node1_awaits, 1);
}

TEST(DsmEngineAwait, AnAnswerAfterTheAwaitGaveUpIsTakenAsBefore) {
  // The await function gives up at once; the Grant waits in the mailbox
  // until this thread hands it over, with the fault thread asleep again.
  AwaitingPair pair(0ms);
  std::thread([&] { store(pair.page(1, 2), 77); }).join();
  std::thread reader([&] { EXPECT_EQ(load(pair.page(0, 2)), 77u); });
  for (int i = 0; i < 5000 && pair.record().awaits == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(pair.deliver_to_node0());  // the Grant
  reader.join();
  auto r = pair.record();
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.awaits, 1);
  EXPECT_EQ(r.answered, 0);
  EXPECT_EQ(r.taken, 0);
  EXPECT_FALSE(r.sent_from_awaiting_thread);  // the Done went out on this thread
}

}  // namespace
}  // namespace amalgam::dsm::testing
