// amalgam-fault-bench: how long a thread waits on a DSM fault when the page
// is on another node, over a real UCX transport, next to what the transport
// itself costs and what a fault costs with no network at all.
//
// One process plays two nodes: each has its own UcxTransport (shared memory
// or TCP on loopback, the same kinds `amalgam node` uses), its own anonymous
// mapping of "guest RAM" and its own DsmEngine with its userfaultfd and fault
// thread; a receiver thread per node decodes frames and hands them to its
// engine, exactly as ClusterNode does. Pages [0, 2N) are homed on node 1,
// pages [2N, 3N) on node 0. In each round, on fresh pages:
//   local floor   node 0 reads a page homed on node 0 that nobody has
//                 touched: the engine zero-fills it, no message at all
//   read miss     node 1 wrote the page; node 0 reads it: Request, and a
//                 Grant with the bytes inline (one round trip, 4 KiB back)
//   upgrade       node 0 then writes the same page (Shared at both): the
//                 home invalidates node 1's copy, node 0 keeps its bytes
//   write miss    node 1 wrote another page; node 0 writes it: the home
//                 sends the bytes and drops its copy
// Before the engines start, the raw round trip of a 4 KiB frame over the
// same two transports (net/round_trip.hpp) is measured the same way.
//
// Output: one JSON object on stdout (figures in microseconds: p50, p99 over
// all samples, and the spread of the per-round medians); a summary on stderr.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/mapping.hpp"
#include "dsm/engine.hpp"
#include "net/messages.hpp"
#include "net/round_trip.hpp"
#include "net/ucx_transport.hpp"

namespace {

using namespace amalgam;
using Clock = std::chrono::steady_clock;

struct Samples {
  std::vector<double> all;        // microseconds
  std::vector<double> round_p50;  // one per round
  size_t round_start = 0;

  void time(const auto& access) {
    auto t0 = Clock::now();
    access();
    all.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  void end_round() {
    std::vector<double> r(all.begin() + static_cast<long>(round_start), all.end());
    round_start = all.size();
    if (!r.empty()) round_p50.push_back(quantile(r, 0.5));
  }
  static double quantile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  }
  std::string json() const {
    auto rounds = round_p50;
    std::sort(rounds.begin(), rounds.end());
    return fmt::format(R"({{"p50_us": {:.2f}, "p99_us": {:.2f}, "samples": {}, "round_p50_min_us": {:.2f}, "round_p50_max_us": {:.2f}}})",
                       quantile(all, 0.5), quantile(all, 0.99), all.size(), rounds.empty() ? 0 : rounds.front(),
                       rounds.empty() ? 0 : rounds.back());
  }
};

struct Options {
  net::UcxTransport::Kind kind = net::UcxTransport::Kind::SharedMemory;
  size_t pages = 500;  // per round and kind of fault
  size_t rounds = 5;
  size_t pings = 2000;
  long busy_poll_us = 0;
};

// One node: transport, memory, engine and the thread that feeds the engine.
class BenchNode {
 public:
  BenchNode(net::UcxTransport::Options t, size_t pages) : transport_(t), memory_(Mapping::anonymous(pages * dsm::kPageSize)) {}

  net::UcxTransport& transport() { return transport_; }
  uint8_t* page(size_t index) { return memory_.data() + index * dsm::kPageSize; }

  void start_engine(size_t homed_on_1) {
    dsm::NodeId self = transport_.self();
    dsm::NodeProtocol protocol(self, 2, [homed_on_1](dsm::PageNumber p) { return p < homed_on_1 ? 1u : 0u; });
    engine_ = std::make_unique<dsm::DsmEngine>(
        std::vector<memory::HostSlot>{{0, memory_.size(), memory_.data()}}, std::move(protocol),
        [this, self](dsm::NodeId to, const dsm::Message& m) { transport_.send(to, net::encode(net::DsmMessage{m}, self)); },
        [this](const dsm::ProtocolError& e) {
          std::lock_guard lock(mutex_);
          errors_.push_back(fmt::format("node {}: {}", e.peer, e.what));
        });
    engine_->start();
    receiver_ = std::thread([this] {
      while (transport_.poll(std::chrono::milliseconds(100), [this](net::NodeId from, std::span<const uint8_t> frame) {
        auto m = net::decode(frame, from);
        if (auto* d = std::get_if<net::DsmMessage>(&m)) engine_->deliver(std::move(d->message));
      })) {
      }
    });
  }

  void stop() {
    if (engine_) engine_->stop();
    transport_.close();
    if (receiver_.joinable()) receiver_.join();
  }
  ~BenchNode() { stop(); }

  std::vector<std::string> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  net::UcxTransport transport_;
  Mapping memory_;
  std::unique_ptr<dsm::DsmEngine> engine_;
  std::thread receiver_;
  std::mutex mutex_;
  std::vector<std::string> errors_;
};

inline uint64_t load(const uint8_t* p) { return *reinterpret_cast<const volatile uint64_t*>(p); }
inline void store(uint8_t* p, uint64_t v) { *reinterpret_cast<volatile uint64_t*>(p) = v; }

int run(const Options& o) {
  const size_t n = o.pages * o.rounds;  // pages of each kind
  net::UcxTransport::Options t;
  t.nodes = 2;
  t.kind = o.kind;
  t.addresses = net::pick_local_addresses(2);
  t.busy_poll = std::chrono::microseconds(o.busy_poll_us);
  t.build_id = 0xbe4c;
  // Each constructor waits for the other node: build them side by side.
  std::unique_ptr<BenchNode> node1;
  std::thread connect1([&] {
    auto t1 = t;
    t1.self = 1;
    node1 = std::make_unique<BenchNode>(t1, 3 * n);
  });
  auto t0 = t;
  t0.self = 0;
  auto node0 = std::make_unique<BenchNode>(t0, 3 * n);
  connect1.join();

  // The transport's own round trip, 4 KiB each way, before the engines use it.
  std::thread echo([&] { net::echo_frames(node1->transport(), 0, o.pings + net::kWarmupRounds); });
  net::RoundTripStats rtt = net::measure_round_trip(node0->transport(), 1, dsm::kPageSize, o.pings);
  echo.join();
  std::string tls = node0->transport().transports();

  node0->start_engine(2 * n);
  node1->start_engine(2 * n);

  Samples floor, read_miss, upgrade, write_miss;
  uint64_t bad = 0;
  std::thread([&] {
    // Node 1 owns the pages node 0 will fetch: [0, n) for reads, [n, 2n) for writes.
    for (size_t i = 0; i < 2 * n; ++i) store(node1->page(i), i + 1);
    for (size_t r = 0; r < o.rounds; ++r) {
      for (size_t k = 0; k < o.pages; ++k) {
        size_t i = r * o.pages + k;
        floor.time([&] { bad += load(node0->page(2 * n + i)) != 0; });
        read_miss.time([&] { bad += load(node0->page(i)) != i + 1; });
        upgrade.time([&] { store(node0->page(i), i + 2); });
        write_miss.time([&] { store(node0->page(n + i), n + i + 2); });
      }
      for (auto* s : {&floor, &read_miss, &upgrade, &write_miss}) s->end_round();
    }
    // Node 1 sees node 0's writes (the pages come back).
    for (size_t i = 0; i < n; ++i) bad += load(node1->page(i)) != i + 2;
  }).join();

  auto errors = node0->errors();
  for (auto& e : node1->errors()) errors.push_back(e);
  node0->stop();
  node1->stop();

  const char* kind = o.kind == net::UcxTransport::Kind::Tcp ? "tcp" : "shm";
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  std::cout << fmt::format(
      R"({{"transport": "{}", "ucx_tls": "{}", "pages_per_round": {}, "rounds": {}, "busy_poll_us": {}, )"
      R"("raw_round_trip_4k": {{"p50_us": {:.2f}, "p99_us": {:.2f}, "min_us": {:.2f}, "samples": {}}}, )"
      R"("local_floor": {}, "read_miss": {}, "write_miss": {}, "upgrade": {}, "wrong_values": {}, "errors": {}}})",
      kind, tls, o.pages, o.rounds, o.busy_poll_us, us(rtt.median_ns), us(rtt.p99_ns), us(rtt.min_ns), rtt.iterations,
      floor.json(), read_miss.json(), write_miss.json(), upgrade.json(), bad, errors.size())
            << std::endl;
  std::cerr << fmt::format(
      "{}: raw 4 KiB round trip {:.1f} us; median faults (us): local floor {:.1f}, read miss {:.1f}, write miss "
      "{:.1f}, upgrade {:.1f}\n",
      kind, us(rtt.median_ns), Samples::quantile(floor.all, 0.5), Samples::quantile(read_miss.all, 0.5),
      Samples::quantile(write_miss.all, 0.5), Samples::quantile(upgrade.all, 0.5));
  for (auto& e : errors) std::cerr << "error: " << e << "\n";
  return bad || !errors.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--transport") {
        std::string v = value();
        if (v != "shm" && v != "tcp") throw std::invalid_argument("--transport shm|tcp");
        o.kind = v == "tcp" ? net::UcxTransport::Kind::Tcp : net::UcxTransport::Kind::SharedMemory;
      } else if (a == "--pages") {
        o.pages = std::stoul(value());
      } else if (a == "--rounds") {
        o.rounds = std::stoul(value());
      } else if (a == "--pings") {
        o.pings = std::stoul(value());
      } else if (a == "--busy-poll-us") {
        o.busy_poll_us = std::stol(value());
      } else {
        throw std::invalid_argument("usage: amalgam-fault-bench [--transport shm|tcp] [--pages N] [--rounds R] "
                                    "[--pings N] [--busy-poll-us US]");
      }
      if (o.pages == 0 || o.rounds == 0 || o.pings == 0) throw std::invalid_argument(a + " must be above 0");
    } catch (const std::logic_error& e) {
      std::cerr << "amalgam-fault-bench: " << e.what() << "\n";
      return 2;
    }
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "amalgam-fault-bench: " << e.what() << "\n";
    return 1;
  }
}
