// amalgam-fault-bench: how long a thread waits on a DSM fault when the page
// is on another node, over a real UCX transport, next to what the transport
// itself costs and what a fault costs with no network at all.
//
// Two processes play two nodes, as `amalgam node` processes do: each has its
// own UcxTransport (shared memory or TCP on loopback, the same kinds `amalgam
// node` uses), its own anonymous mapping of "guest RAM" and its own DsmEngine
// with its userfaultfd and fault thread; a receiver thread per node decodes
// frames and hands them to its engine, and a fault thread whose fault waits
// for the other node polls for the answer itself for --fault-spin-us (the
// same default as `amalgam node --fault-spin`), exactly as ClusterNode does.
// (One process would share what two hosts do not: a write-protect by the
// home flushes the TLB on every CPU running a thread of its address space.)
// A socket pair orders the two: node 1 writes its pages, node 0 measures,
// node 1 checks what node 0 wrote. Pages [0, 2N) are homed on node 1,
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
// Both processes record fault_trace steps; each read miss is split at them
// (fault_steps.hpp): fault to the requester's fault thread, Request to the
// home's receive thread, the home's write-protect, Grant to a thread of the
// requester (its receive thread, or its fault thread polling for it), the
// decode up to the UFFDIO_COPY, and the copy with the faulting thread
// running again. (Not the copy's end: the copy wakes the faulting thread,
// which may end its access before the copying thread can take the time.)
// --pin puts node 0's process on CPU 0 and node 1's on CPU 1.
//
// Output: one JSON object on stdout (figures in microseconds: p50, p99 over
// all samples, and the spread of the per-round medians; the medians of the
// read miss's steps); a summary on stderr.
#include <fmt/format.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fault_trace.hpp"
#include "common/mapping.hpp"
#include "cluster/node.hpp"
#include "common/unique_fd.hpp"
#include "dsm/engine.hpp"
#include "fault_steps.hpp"
#include "net/local_addresses.hpp"
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
  // [begin, end] of each access, steady_clock = CLOCK_MONOTONIC ns, to place
  // the fault_trace steps of both processes in.
  std::vector<std::pair<int64_t, int64_t>> windows;

  void time(const auto& access) {
    auto t0 = Clock::now();
    access();
    auto t1 = Clock::now();
    all.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    windows.emplace_back(std::chrono::nanoseconds(t0.time_since_epoch()).count(),
                         std::chrono::nanoseconds(t1.time_since_epoch()).count());
  }
  void end_round() {
    std::vector<double> r(all.begin() + static_cast<long>(round_start), all.end());
    round_start = all.size();
    if (!r.empty()) round_p50.push_back(bench::quantile(r, 0.5));
  }
  std::string json() const {
    auto rounds = round_p50;
    std::sort(rounds.begin(), rounds.end());
    return fmt::format(R"({{"p50_us": {:.2f}, "p99_us": {:.2f}, "samples": {}, "round_p50_min_us": {:.2f}, "round_p50_max_us": {:.2f}}})",
                       bench::quantile(all, 0.5), bench::quantile(all, 0.99), all.size(), rounds.empty() ? 0 : rounds.front(),
                       rounds.empty() ? 0 : rounds.back());
  }
};

constexpr size_t kTraceEvents = 1 << 20;  // per process; a default run marks ~10^5

struct Options {
  net::UcxTransport::Kind kind = net::UcxTransport::Kind::SharedMemory;
  size_t pages = 500;  // per round and kind of fault
  size_t rounds = 5;
  size_t pings = 2000;
  long busy_poll_us = 0;
  // The fault thread polls for its answer this long before it sleeps, as
  // `amalgam node --fault-spin` (the same default).
  long fault_spin_us = cluster::kDefaultFaultSpin.count();
  bool pin = false;  // node 0's process on CPU 0, node 1's on CPU 1
};

// One node: transport, memory, engine and the thread that feeds the engine.
class BenchNode {
 public:
  BenchNode(net::UcxTransport::Options t, size_t pages, std::chrono::microseconds fault_spin)
      : transport_(t), memory_(Mapping::anonymous(pages * dsm::kPageSize)), fault_spin_(fault_spin) {}

  net::UcxTransport& transport() { return transport_; }
  uint8_t* page(size_t index) { return memory_.data() + index * dsm::kPageSize; }

  void start_engine(size_t homed_on_1) {
    dsm::NodeId self = transport_.self();
    dsm::NodeProtocol protocol(self, 2, [homed_on_1](dsm::PageNumber p) { return p < homed_on_1 ? 1u : 0u; });
    engine_ = std::make_unique<dsm::DsmEngine>(
        std::vector<memory::HostSlot>{{0, memory_.size(), memory_.data()}}, std::move(protocol),
        [this, self](dsm::NodeId to, const dsm::Message& m) {
          transport_.send(to, net::encode(m, self));
        },
        [this](const dsm::ProtocolError& e) {
          std::lock_guard lock(mutex_);
          errors_.push_back(fmt::format("node {}: {}", e.peer, e.what));
        },
        fault_spin_.count() == 0 ? dsm::DsmEngine::AwaitFunction{} : [this](const std::function<bool()>& answered) {
          transport_.spin(fault_spin_, on_frame_, answered);
        });
    engine_->start();
    receiver_ = std::thread([this] {
      while (transport_.poll(std::chrono::milliseconds(100), on_frame_)) {
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
  std::chrono::microseconds fault_spin_;
  std::unique_ptr<dsm::DsmEngine> engine_;
  net::FrameHandler on_frame_ = [this](net::NodeId from, std::span<const uint8_t> frame) {
    auto m = net::decode(frame, from);
    if (auto* d = std::get_if<net::DsmMessage>(&m)) engine_->deliver(std::move(d->message));
  };
  std::thread receiver_;
  std::mutex mutex_;
  std::vector<std::string> errors_;
};

inline uint64_t load(const uint8_t* p) { return *reinterpret_cast<const volatile uint64_t*>(p); }
inline void store(uint8_t* p, uint64_t v) { *reinterpret_cast<volatile uint64_t*>(p) = v; }

// The two processes' side channel: 64-bit values and the fault_trace events;
// a process that ends early shows as end of file, never as a hang.
class Channel {
 public:
  explicit Channel(UniqueFd fd) : fd_(std::move(fd)) {}
  void put(uint64_t v) { put_bytes(&v, sizeof v); }
  uint64_t get(const char* peer) {
    uint64_t v = 0;
    get_bytes(&v, sizeof v, peer);
    return v;
  }
  void put_events(const std::vector<fault_trace::Event>& events) {
    put(events.size());
    put_bytes(events.data(), events.size() * sizeof(fault_trace::Event));
  }
  std::vector<fault_trace::Event> get_events(const char* peer) {
    std::vector<fault_trace::Event> events(get(peer));
    get_bytes(events.data(), events.size() * sizeof(fault_trace::Event), peer);
    return events;
  }

 private:
  void put_bytes(const void* from, size_t size) {
    const auto* p = static_cast<const char*>(from);
    while (size > 0) {
      ssize_t n = ::write(fd_.get(), p, size);
      if (n <= 0) throw std::runtime_error("bench channel: write failed");
      p += n;
      size -= static_cast<size_t>(n);
    }
  }
  void get_bytes(void* to, size_t size, const char* peer) {
    auto* p = static_cast<char*>(to);
    while (size > 0) {
      ssize_t n = ::read(fd_.get(), p, size);
      if (n <= 0) throw std::runtime_error(fmt::format("bench channel: {} ended early", peer));
      p += n;
      size -= static_cast<size_t>(n);
    }
  }
  UniqueFd fd_;
};

// On two hosts each node has its own CPUs; here, with --pin, each node's
// process gets one of this host's.
void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  check_syscall(::sched_setaffinity(0, sizeof set, &set), "sched_setaffinity");
}

// Node 1 (child process): echoes the raw pings, writes the pages node 0 will
// fetch, then checks that node 0's writes come back. Returns the exit status.
int run_home(const Options& o, net::UcxTransport::Options t, Channel& channel) {
  const size_t n = o.pages * o.rounds;
  if (o.pin) pin_to_cpu(1);
  fault_trace::enable(kTraceEvents);
  t.self = 1;
  BenchNode node(t, 3 * n, std::chrono::microseconds(o.fault_spin_us));
  net::echo_frames(node.transport(), 0, o.pings + net::kWarmupRounds);
  node.start_engine(2 * n);
  // [0, n) for node 0's reads, [n, 2n) for its writes.
  for (size_t i = 0; i < 2 * n; ++i) store(node.page(i), i + 1);
  channel.put(1);
  channel.get("the measuring node");  // node 0 has measured
  uint64_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += load(node.page(i)) != i + 2;
  auto errors = node.errors();
  for (auto& e : errors) std::cerr << "error: " << e << "\n";
  channel.put(bad);
  channel.put(errors.size());
  channel.get("the measuring node");  // node 0 has stopped: no message is in flight
  node.stop();
  channel.put_events(fault_trace::events());
  return 0;
}

int run(const Options& o) {
  const size_t n = o.pages * o.rounds;  // pages of each kind
  net::UcxTransport::Options t;
  t.nodes = 2;
  t.kind = o.kind;
  t.addresses = net::pick_local_addresses(2);
  t.busy_poll = std::chrono::microseconds(o.busy_poll_us);
  t.build_id = 0xbe4c;

  int fds[2];
  check_syscall(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "socketpair");
  UniqueFd mine(fds[0]), theirs(fds[1]);
  pid_t pid = static_cast<pid_t>(check_syscall(::fork(), "fork"));
  if (pid == 0) {
    mine.reset();
    Channel channel(std::move(theirs));
    int status = 1;
    try {
      status = run_home(o, t, channel);
    } catch (const std::exception& e) {
      std::cerr << "amalgam-fault-bench (node 1): " << e.what() << "\n";
    }
    std::cout.flush();
    ::_exit(status);
  }
  theirs.reset();
  Channel channel(std::move(mine));
  // Whatever happens here, the child does not outlive the measurement.
  struct Reap {
    pid_t pid;
    bool done = false;
    int wait() {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      done = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    ~Reap() {
      if (!done) {
        ::kill(pid, SIGKILL);
        wait();
      }
    }
  } child{pid};

  if (o.pin) pin_to_cpu(0);
  fault_trace::enable(kTraceEvents);
  t.self = 0;
  BenchNode node0(t, 3 * n, std::chrono::microseconds(o.fault_spin_us));  // waits for node 1 to connect
  // The transport's own round trip, 4 KiB each way, before the engines use it.
  net::RoundTripStats rtt = net::measure_round_trip(node0.transport(), 1, dsm::kPageSize, o.pings);
  std::string tls = node0.transport().transports();
  node0.start_engine(2 * n);
  channel.get("node 1");  // its pages are written

  Samples floor, read_miss, upgrade, write_miss;
  uint64_t bad = 0;
  for (size_t r = 0; r < o.rounds; ++r) {
    for (size_t k = 0; k < o.pages; ++k) {
      size_t i = r * o.pages + k;
      floor.time([&] { bad += load(node0.page(2 * n + i)) != 0; });
      read_miss.time([&] { bad += load(node0.page(i)) != i + 1; });
      upgrade.time([&] { store(node0.page(i), i + 2); });
      write_miss.time([&] { store(node0.page(n + i), n + i + 2); });
    }
    for (auto* s : {&floor, &read_miss, &upgrade, &write_miss}) s->end_round();
  }
  channel.put(1);
  bad += channel.get("node 1");  // node 1 sees node 0's writes (the pages come back)
  uint64_t home_errors = channel.get("node 1");
  auto errors = node0.errors();
  node0.stop();
  channel.put(1);
  auto home_events = channel.get_events("node 1");
  int home_status = child.wait();
  auto events = fault_trace::events();

  // Requester = node 0, home = node 1. (The floor is not split: a Done of
  // the write miss before it may still keep node 0's fault thread busy.)
  using fault_trace::Step;
  auto read_steps = bench::step_medians(read_miss.windows, events, home_events,
                                        {{"to_fault_thread", bench::Side::Requester, Step::FaultThreadWakes},
                                         {"request_to_home", bench::Side::Home, Step::FramesArrived},
                                         {"home_write_protects", bench::Side::Home, Step::WriteProtectEnd},
                                         {"grant_to_requester", bench::Side::Requester, Step::FramesArrived},
                                         {"requester_decodes", bench::Side::Requester, Step::MapBegin}},
                                        "maps_and_resumes");

  const char* kind = o.kind == net::UcxTransport::Kind::Tcp ? "tcp" : "shm";
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  std::cout << fmt::format(
      R"({{"transport": "{}", "ucx_tls": "{}", "processes": 2, "pinned": {}, "pages_per_round": {}, "rounds": {}, "busy_poll_us": {}, "fault_spin_us": {}, )"
      R"("raw_round_trip_4k": {{"p50_us": {:.2f}, "p99_us": {:.2f}, "min_us": {:.2f}, "samples": {}}}, )"
      R"("local_floor": {}, "read_miss": {}, "write_miss": {}, "upgrade": {}, )"
      R"("read_miss_steps": {}, "wrong_values": {}, "errors": {}}})",
      kind, tls, o.pin, o.pages, o.rounds, o.busy_poll_us, o.fault_spin_us, us(rtt.median_ns), us(rtt.p99_ns), us(rtt.min_ns), rtt.iterations,
      floor.json(), read_miss.json(), write_miss.json(), upgrade.json(), read_steps.json(), bad, errors.size() + home_errors)
            << std::endl;
  std::cerr << fmt::format(
      "{}: raw 4 KiB round trip {:.1f} us; median faults (us): local floor {:.1f}, read miss {:.1f}, write miss "
      "{:.1f}, upgrade {:.1f}\n",
      kind, us(rtt.median_ns), bench::quantile(floor.all, 0.5), bench::quantile(read_miss.all, 0.5),
      bench::quantile(write_miss.all, 0.5), bench::quantile(upgrade.all, 0.5));
  std::cerr << "  read miss steps (us): ";
  for (const auto& [name, us] : read_steps.steps_us) std::cerr << fmt::format("{} {:.1f}, ", name, us);
  std::cerr << fmt::format("over {} faults\n", read_steps.windows);
  for (auto& e : errors) std::cerr << "error: " << e << "\n";
  if (home_status != 0) std::cerr << "error: node 1's process ended with status " << home_status << "\n";
  return bad || !errors.empty() || home_errors || home_status ? 1 : 0;
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
      } else if (a == "--pin") {
        o.pin = true;
        if (std::thread::hardware_concurrency() < 2) throw std::invalid_argument("--pin needs 2 CPUs");
      } else if (a == "--fault-spin-us") {
        o.fault_spin_us = std::stol(value());
      } else if (a == "--busy-poll-us") {
        o.busy_poll_us = std::stol(value());
      } else {
        throw std::invalid_argument("usage: amalgam-fault-bench [--transport shm|tcp] [--pages N] [--rounds R] "
                                    "[--pings N] [--busy-poll-us US] [--fault-spin-us US] [--pin]");
      }
      if (o.pages == 0 || o.rounds == 0 || o.pings == 0) throw std::invalid_argument(a + " must be above 0");
      if (o.busy_poll_us < 0 || o.fault_spin_us < 0) throw std::invalid_argument(a + " must not be negative");
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
