#include "dsm/simulator.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "dsm/model_cluster.hpp"

namespace amalgam::dsm {

const char* to_string(SimResult::Outcome outcome) {
  switch (outcome) {
    case SimResult::Outcome::Passed: return "passed";
    case SimResult::Outcome::Incoherent: return "incoherent";
    case SimResult::Outcome::Stuck: return "stuck";
    case SimResult::Outcome::ProtocolError: return "protocol error";
    case SimResult::Outcome::EngineMisuse: return "engine misuse";
  }
  return "unknown";
}

const char* to_string(Mutation mutation) {
  switch (mutation) {
    case Mutation::None: return "none";
    case Mutation::SkipOneInvalidationAck: return "skip-ack";
    case Mutation::NoDowngradeOnForward: return "no-downgrade";
  }
  return "unknown";
}

std::string replay_command(const SimConfig& c) {
  std::string cmd = fmt::format("dsm_sim --seed {} --nodes {} --pages {} --events {}", c.seed, c.nodes,
                                c.pages, c.events);
  if (c.mutation != Mutation::None) cmd += fmt::format(" --mutation {}", to_string(c.mutation));
  if (c.prefetch) cmd += fmt::format(" --prefetch {}", c.prefetch);
  if (c.claim) cmd += fmt::format(" --claim {}", c.claim);
  if (c.preallocate) cmd += " --preallocate";
  // fmt's shortest form reads back as the same double, hence the same run.
  if (c.drop > 0) cmd += fmt::format(" --drop {}", c.drop);
  if (c.duplicate > 0) cmd += fmt::format(" --duplicate {}", c.duplicate);
  return cmd;
}

namespace {

using Mapping = ModelCluster::Mapping;
using Outcome = SimResult::Outcome;

bool permits(Mapping m, Access a) {
  return m == Mapping::ReadWrite || (m == Mapping::ReadOnly && a == Access::Read);
}

PageState expected_state(Mapping m) {
  switch (m) {
    case Mapping::None: return PageState::Invalid;
    case Mapping::ReadOnly: return PageState::Shared;
    case Mapping::ReadWrite: return PageState::Exclusive;
  }
  return PageState::Invalid;
}

// What Counters::invalidations_sent and _received count.
bool invalidates(const Message& m) {
  return m.type == MessageType::Invalidate || (m.type == MessageType::Forward && m.access == Access::Write);
}

class Simulation {
 public:
  explicit Simulation(const SimConfig& c);
  SimResult run();

 private:
  struct Vcpu {
    bool waiting = false;
    PageNumber page = 0;
    Access access = Access::Read;
  };

  uint64_t below(uint64_t n) { return rng_() % n; }  // portable, unlike <random>'s distributions
  bool percent(uint32_t p) { return below(100) < p; }
  // Draws nothing when off, so runs without faults stay as they were.
  bool chance(uint32_t ppm) { return ppm != 0 && below(kMillion) < ppm; }

  static constexpr uint32_t kMillion = 1'000'000;
  static uint32_t ppm(double probability);

  void step();
  void deliver_random();
  void inject_drop(size_t index);
  void inject_duplicate(size_t index);
  void access_random();
  void resume_woken();
  void perform(NodeId n, PageNumber p, Access a);
  void check_step();
  void check_coherent();
  void check_deadlock();
  void check_quiescent();
  bool copy_is_latest(NodeId n, PageNumber p) const;
  void fail(Outcome outcome, const std::string& detail);
  bool failed() const { return result_.outcome != Outcome::Passed; }

  SimConfig config_;
  std::mt19937_64 rng_;
  // Knobs drawn from the seed, so that seeds cover different loads.
  uint32_t deliver_percent_;
  uint32_t write_percent_;
  uint32_t refault_percent_;
  uint32_t vcpus_;
  uint32_t drop_ppm_;
  uint32_t duplicate_ppm_;
  std::vector<NodeId> home_;
  ModelCluster cluster_;
  std::vector<std::vector<Vcpu>> vcpus_of_;
  std::vector<ModelCluster::Page> latest_;   // the value a read must return
  std::vector<uint8_t> ever_mapped_;
  std::vector<uint8_t> bytes_dropped_;  // a payload of the page was lost in the network
  // Injected faults by what they change in the accounting at rest.
  uint64_t payloads_dropped_ = 0, payloads_duplicated_ = 0;
  uint64_t invalidations_dropped_ = 0, invalidations_duplicated_ = 0;
  uint64_t stamp_ = 0;
  SimResult result_;
};

Simulation::Simulation(const SimConfig& c)
    : config_(c),
      rng_(c.seed),
      deliver_percent_(30 + static_cast<uint32_t>(below(65))),
      write_percent_(5 + static_cast<uint32_t>(below(70))),
      refault_percent_(static_cast<uint32_t>(below(30))),
      vcpus_(1 + static_cast<uint32_t>(below(3))),
      drop_ppm_(ppm(c.drop)),
      duplicate_ppm_(ppm(c.duplicate)),
      home_([&] {
        if (c.nodes < 2 || c.nodes > kMaxNodes || c.pages == 0)
          throw std::invalid_argument("simulation needs 2..64 nodes and some pages");
        std::vector<NodeId> home(c.pages);
        uint64_t layout = below(3);
        for (PageNumber p = 0; p < c.pages; ++p)
          home[p] = layout == 0 ? static_cast<NodeId>(p % c.nodes)          // interleaved
                    : layout == 1 ? 0                                       // all on one node
                                  : static_cast<NodeId>(below(c.nodes));    // scattered
        return home;
      }()),
      cluster_(c.nodes, c.pages, [this](PageNumber p) { return p < home_.size() ? home_[p] : kMaxNodes; },
               Options{c.mutation, c.prefetch, c.claim, c.preallocate}),
      vcpus_of_(c.nodes, std::vector<Vcpu>(vcpus_)),
      latest_(c.pages),
      ever_mapped_(c.pages),
      bytes_dropped_(c.pages) {
  for (auto& page : latest_) page.fill(std::byte{0});
}

uint32_t Simulation::ppm(double probability) {
  if (!(probability >= 0 && probability <= 1))
    throw std::invalid_argument("fault probabilities must be in [0, 1]");
  return static_cast<uint32_t>(std::lround(probability * kMillion));
}

SimResult Simulation::run() {
  const uint64_t max_steps = 50 * config_.events + 10'000;
  while (!failed() && cluster_.events() < config_.events) {
    if (++result_.steps > max_steps) {
      fail(Outcome::Stuck, "no progress in protocol events");
      break;
    }
    step();
  }
  // Drain: no new accesses; everything asked for must now be granted.
  const uint64_t drain_limit = cluster_.network().size() * 64 + 64ull * config_.nodes * config_.nodes *
                                                                    vcpus_ * (config_.pages + 1);
  for (uint64_t i = 0; !failed() && !cluster_.network().empty(); ++i) {
    if (i > drain_limit) {
      fail(Outcome::Stuck, fmt::format("network still busy after {} deliveries (livelock)", i));
      break;
    }
    ++result_.steps;
    deliver_random();
    resume_woken();
    check_step();
  }
  if (!failed()) check_quiescent();
  result_.events = cluster_.events();
  result_.reordered = cluster_.reordered();
  result_.totals = cluster_.totals();
  if (failed()) result_.detail += fmt::format(" (step {})", result_.steps);
  return result_;
}

void Simulation::step() {
  if (!cluster_.network().empty() && percent(deliver_percent_)) deliver_random();
  else access_random();
  resume_woken();
  check_step();
}

void Simulation::deliver_random() {
  size_t index = below(cluster_.network().size());
  if (chance(drop_ppm_)) return inject_drop(index);
  const Message& m = cluster_.network()[index];
  // After a duplicate, stale bytes on the wire are expected (see the header).
  if (result_.duplicated == 0 && !m.payload.empty() &&
      std::memcmp(m.payload.data(), latest_[m.page].data(), kPageSize) != 0)
    return fail(Outcome::Incoherent, fmt::format("{} from node {} to {} carries stale bytes of page {}",
                                                 to_string(m.type), m.sender, m.destination, m.page));
  if (chance(duplicate_ppm_)) inject_duplicate(index);
  cluster_.deliver(index);
}

void Simulation::inject_drop(size_t index) {
  const Message& m = cluster_.network()[index];
  ++result_.dropped;
  ++result_.dropped_by_type[static_cast<uint8_t>(m.type)];
  if (!m.payload.empty()) {
    ++payloads_dropped_;
    bytes_dropped_[m.page] = 1;
  }
  invalidations_dropped_ += invalidates(m);
  cluster_.drop(index);
}

void Simulation::inject_duplicate(size_t index) {
  const Message& m = cluster_.network()[index];
  ++result_.duplicated;
  ++result_.duplicated_by_type[static_cast<uint8_t>(m.type)];
  payloads_duplicated_ += !m.payload.empty();
  invalidations_duplicated_ += invalidates(m);
  cluster_.duplicate(index);
}

void Simulation::access_random() {
  NodeId n = static_cast<NodeId>(below(config_.nodes));
  Vcpu& v = vcpus_of_[n][below(vcpus_)];
  if (v.waiting) {
    // The same access faults again: the protocol must coalesce it.
    if (percent(refault_percent_)) cluster_.fault(n, v.page, v.access);
    return;
  }
  PageNumber p = below(config_.pages);
  Access a = percent(write_percent_) ? Access::Write : Access::Read;
  if (permits(cluster_.mapping(n, p), a)) return perform(n, p, a);
  v = Vcpu{true, p, a};
  cluster_.fault(n, p, a);
}

// Woken vCPUs retry their access: done if now permitted, else they fault
// again (a read that got Shared while a write waits, for example).
void Simulation::resume_woken() {
  for (int round = 0; !failed(); ++round) {
    auto wakes = cluster_.take_wakes();
    if (wakes.empty()) return;
    if (round > 16) return fail(Outcome::Stuck, "wake / fault loop");
    for (const auto& w : wakes) {
      for (Vcpu& v : vcpus_of_[w.node]) {
        if (!v.waiting || v.page != w.page) continue;
        if (permits(cluster_.mapping(w.node, w.page), v.access)) {
          v.waiting = false;
          perform(w.node, w.page, v.access);
        } else {
          cluster_.fault(w.node, w.page, v.access);
        }
      }
    }
  }
}

void Simulation::perform(NodeId n, PageNumber p, Access a) {
  if (a == Access::Read) {
    ++result_.reads;
    if (!copy_is_latest(n, p))
      fail(Outcome::Incoherent, fmt::format("node {} read page {} and did not see the latest write", n, p));
    return;
  }
  ++result_.writes;
  ++stamp_;
  size_t offset = (stamp_ % (kPageSize / sizeof stamp_)) * sizeof stamp_;
  cluster_.store(n, p, offset, stamp_);
  std::memcpy(latest_[p].data() + offset, &stamp_, sizeof stamp_);
}

bool Simulation::copy_is_latest(NodeId n, PageNumber p) const {
  return std::memcmp(cluster_.bytes(n, p).data(), latest_[p].data(), kPageSize) == 0;
}

void Simulation::check_step() {
  if (failed()) return;
  if (!cluster_.violations().empty()) return fail(Outcome::EngineMisuse, cluster_.violations().front());
  // Coherence first: a step that both rejects a message and corrupts memory
  // is a corruption, not a detection (fail() keeps the first outcome).
  check_coherent();
  if (!cluster_.errors().empty()) fail(Outcome::ProtocolError, cluster_.errors().front().what);
  if (!failed()) check_deadlock();
}

void Simulation::check_coherent() {
  for (PageNumber p = 0; p < config_.pages; ++p) {
    uint32_t writers = 0, readers = 0;
    for (NodeId n = 0; n < config_.nodes; ++n) {
      Mapping m = cluster_.mapping(n, p);
      writers += m == Mapping::ReadWrite;
      readers += m == Mapping::ReadOnly;
      if (cluster_.node(n).state(p) != expected_state(m))
        return fail(Outcome::Incoherent, fmt::format("node {} page {}: protocol state disagrees with mapping", n, p));
    }
    if (writers > 1 || (writers == 1 && readers > 0))
      return fail(Outcome::Incoherent,
                  fmt::format("page {} mapped writable at {} node(s) and read-only at {}", p, writers, readers));
    if (writers + readers > 0) ever_mapped_[p] = 1;
    else if (ever_mapped_[p] && cluster_.copies_in_transit(p) == 0 && !bytes_dropped_[p])
      return fail(Outcome::Incoherent, fmt::format("page {} lost: no copy anywhere", p));
  }
  // Bytes change only where a page was mapped, stored to or dropped.
  for (PageNumber p : cluster_.touched())
    for (NodeId n = 0; n < config_.nodes; ++n)
      if (cluster_.mapping(n, p) != Mapping::None && !copy_is_latest(n, p))
        return fail(Outcome::Incoherent, fmt::format("node {} maps page {} with stale bytes", n, p));
  cluster_.clear_touched();
}

void Simulation::check_deadlock() {
  if (cluster_.network().empty())
    for (NodeId n = 0; n < config_.nodes; ++n)
      for (const Vcpu& v : vcpus_of_[n])
        if (v.waiting)
          return fail(Outcome::Stuck, fmt::format("deadlock: network empty, node {} waits for {} page {}", n,
                                                  v.access == Access::Read ? "read" : "write", v.page));
}

void Simulation::check_quiescent() {
  for (PageNumber p = 0; p < config_.pages; ++p) {
    NodeSet mapped = 0;
    uint32_t writers = 0;
    for (NodeId n = 0; n < config_.nodes; ++n) {
      Mapping m = cluster_.mapping(n, p);
      if (m != Mapping::None) {
        mapped |= NodeSet{1} << n;
        if (!copy_is_latest(n, p)) return fail(Outcome::Incoherent, fmt::format("node {} page {} stale at rest", n, p));
      }
      writers += m == Mapping::ReadWrite;
      if (cluster_.node(n).pending(p))
        return fail(Outcome::Stuck, fmt::format("node {} page {}: request still pending at rest", n, p));
    }
    auto dir = cluster_.node(home_[p]).directory(p);
    NodeSet holders = dir ? dir->holders : 0;
    if (holders != mapped || (dir && dir->exclusive != (writers == 1)))
      return fail(Outcome::Incoherent, fmt::format("page {}: home's directory disagrees with the mappings", p));
    if (dir && (dir->busy || dir->queued != 0))
      return fail(Outcome::Stuck, fmt::format("page {}: home still busy at rest", p));
  }
  // Received = sent - dropped + duplicated; a run that gets here rejected
  // nothing, so every copy that came was also taken.
  const Counters t = cluster_.totals();
  const uint64_t pages = t.pages_sent - payloads_dropped_ + payloads_duplicated_;
  if (t.pages_received != pages || t.bytes_received != pages * kPageSize || cluster_.payloads_delivered() != pages ||
      t.bytes_sent != t.pages_sent * kPageSize)
    return fail(Outcome::Incoherent, fmt::format("page accounting: {} sent, {} received, {} delivered",
                                                 t.pages_sent, t.pages_received, cluster_.payloads_delivered()));
  if (t.messages_received != t.messages_sent - result_.dropped + result_.duplicated ||
      t.invalidations_received != t.invalidations_sent - invalidations_dropped_ + invalidations_duplicated_)
    return fail(Outcome::Incoherent, "message or invalidation accounting does not balance");
}

void Simulation::fail(Outcome outcome, const std::string& detail) {
  if (failed()) return;
  result_.outcome = outcome;
  result_.detail = detail;
}

}  // namespace

SimResult simulate(const SimConfig& config) { return Simulation(config).run(); }

}  // namespace amalgam::dsm
