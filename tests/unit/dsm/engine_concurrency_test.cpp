// DSM engines under concurrent load: threads on every node use the node's own
// mapping at once, with messages delivered out of order by a shuffling bus.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <vector>

#include "dsm/engine.hpp"
#include "engine_harness.hpp"

namespace amalgam::dsm::testing {
namespace {

// A test-and-test-and-set lock in DSM memory: the exchange needs the page
// writable here, i.e. every other copy gone (write exclusivity).
void lock(uint8_t* word) {
  std::atomic_ref<uint64_t> w(*reinterpret_cast<uint64_t*>(word));
  for (;;) {
    if (w.load(std::memory_order_relaxed) == 0 && w.exchange(1, std::memory_order_acquire) == 0) return;
    std::this_thread::yield();
  }
}
void unlock(uint8_t* word) {
  std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(word)).store(0, std::memory_order_release);
}

// Every thread adds kRounds to a counter under the lock, but only when the
// counter says it is its node's turn (counter % nodes == node), so the lock
// and counter pages move between the nodes on every increment.
TEST(DsmEngineConcurrency, SpinlockInDsmMemoryKeepsCountersExact) {
  constexpr uint32_t kNodes = 3, kThreads = 2, kRounds = 20;
  EngineCluster c(kNodes, Bus::Mode::Shuffled, 42);
  // Lock on page 0 (home 0); the counters on other pages and homes, so that
  // the lock orders accesses to pages it does not live on (sequential
  // consistency across pages, not just coherence of one).
  constexpr size_t kLock = 0, kCounter = 33, kPerNode = 5;
  ASSERT_NE(c.home_of(kCounter), c.home_of(kLock));
  ASSERT_NE(c.home_of(kPerNode), c.home_of(kLock));
  on_every_node(kNodes, kThreads, [&](NodeId n, uint32_t) {
    for (uint32_t done = 0; done < kRounds;) {
      lock(c.at(n, kLock));
      uint64_t count = load(c.at(n, kCounter));
      if (count % kNodes == n) {
        store(c.at(n, kCounter), count + 1);
        uint8_t* mine = c.at(n, kPerNode) + 8 * n;
        store(mine, load(mine) + 1);
        ++done;
      }
      unlock(c.at(n, kLock));
      std::this_thread::yield();
    }
  });
  on_every_node(kNodes, 1, [&](NodeId n, uint32_t) {
    EXPECT_EQ(load(c.at(n, kCounter)), kNodes * kThreads * kRounds) << "node " << n;
    for (NodeId m = 0; m < kNodes; ++m) EXPECT_EQ(load(c.at(n, kPerNode) + 8 * m), kThreads * kRounds);
    EXPECT_EQ(load(c.at(n, kLock)), 0u);
  });
  Counters total;
  for (NodeId n = 0; n < kNodes; ++n) {
    EngineStats s = c.settled_stats(n);
    total += s.protocol;
    EXPECT_GE(s.protocol.write_faults, kThreads * kRounds) << "node " << n;
  }
  EXPECT_EQ(total.pages_sent, total.pages_received);
  EXPECT_EQ(total.bytes_sent, total.bytes_received);
  EXPECT_EQ(total.invalidations_sent, total.invalidations_received);
  EXPECT_GE(total.pages_sent, kNodes * kThreads * kRounds);  // the counter page, at least
  EXPECT_TRUE(c.errors().empty());
  std::cout << "pages moved: " << total.pages_sent << ", invalidations: " << total.invalidations_sent
            << ", coalesced faults: " << total.coalesced_faults << ", spurious: " << total.spurious_faults
            << "\n";
}

// Every thread owns one 8-byte slot in every page and writes increasing
// values there; every read of a page checks that no slot ever goes back
// (coherence per location, as each thread sees it). At the end every node
// sees every slot's last value.
TEST(DsmEngineConcurrency, RandomReadsAndWritesStayCoherent) {
  constexpr uint32_t kNodes = 3, kThreads = 2, kOps = 800;
  EngineCluster c(kNodes, Bus::Mode::Shuffled, 7, /*pages_per_range=*/8);
  const size_t pages = c.pages();
  constexpr uint32_t kSlots = kNodes * kThreads;
  std::vector<uint64_t> last(kSlots * pages, 0);  // [slot][page], written only by the slot's thread
  on_every_node(kNodes, kThreads, [&](NodeId n, uint32_t t) {
    uint32_t slot = n * kThreads + t;
    std::mt19937_64 rng(1000 + slot);
    std::vector<uint64_t> seen(kSlots * pages, 0);
    uint64_t value = 0;
    for (uint32_t i = 0; i < kOps; ++i) {
      size_t page = rng() % pages;
      uint8_t* base = c.at(n, page);
      if (rng() % 3 == 0) {
        store(base + 8 * slot, ++value);
        last[slot * pages + page] = value;
      } else {
        for (uint32_t s = 0; s < kSlots; ++s) {
          uint64_t v = load(base + 8 * s);
          uint64_t& before = seen[s * pages + page];
          ASSERT_GE(v, before) << "node " << n << " page " << page << " slot " << s << " went back";
          before = v;
        }
        ASSERT_EQ(load(base + 4000), 0u);  // never written: zero everywhere
      }
    }
  });
  on_every_node(kNodes, 1, [&](NodeId n, uint32_t) {
    for (size_t page = 0; page < pages; ++page)
      for (uint32_t s = 0; s < kSlots; ++s)
        EXPECT_EQ(load(c.at(n, page) + 8 * s), last[s * pages + page]) << "node " << n << " page " << page;
  });
  EXPECT_TRUE(c.errors().empty());
}

}  // namespace
}  // namespace amalgam::dsm::testing
