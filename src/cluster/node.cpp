#include "cluster/node.hpp"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.hpp"
#include "dsm/engine.hpp"
#include "machine/machine.hpp"
#include "machine/numa_placement.hpp"
#include "memory/populate.hpp"
#include "net/messages.hpp"
#include "net/ucx_transport.hpp"

namespace amalgam::cluster {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kStartTimeout{30'000};

class ClusterNode : public machine::NodeServices {
 public:
  ClusterNode(const machine::MachineConfig& config, const NodeOptions& options);
  ~ClusterNode() override;

  // A stop that came before the machine existed (a peer gone silent while
  // this node allocated its memory, node 0's Stop) is carried out now.
  void set_machine(machine::Machine* machine);
  void shutdown();
  // Stops the DSM engine from this thread, which releases guest memory:
  // before the machine unmaps it, also when the machine never ran or threw
  // (docs/teardown.md). Reports, never throws.
  void release_memory() noexcept;
  // Node 0 knows how the machine ended: it stopped us.
  bool node_zero_knows() const { return stopped_by_node_zero_; }

  // machine::NodeServices
  void attach_memory(const memory::GuestMemory& memory) override;
  uint64_t forward_io(const machine::IoAccess& access) override;
  void send_interrupt(uint32_t node, const irq::InterruptMessage& message) override;
  void announce_stop(int status, const std::string& reason) override;
  void machine_stopping() override;
  bool wait_for_start() override;
  std::string stats_line() const override;

 private:
  void send(uint32_t to, const net::Message& message);
  void receive_loop();
  // A frame from the transport, on the receive thread or on the DSM fault
  // thread while it awaits an answer (DsmEngine::AwaitFunction).
  void on_frame(net::NodeId from, std::span<const uint8_t> frame);
  void io_server_loop();
  void dispatch(uint32_t from, net::Message message);
  void stop_engine();
  void check_peers();
  void fail(const std::string& reason);

  machine::MachineConfig config_;
  uint32_t self_;
  uint32_t nodes_;
  std::unique_ptr<net::UcxTransport> transport_;
  std::atomic<machine::Machine*> machine_{nullptr};
  // Guards machine_ against a stop recorded in early_stop_ meanwhile.
  std::mutex machine_mu_;
  struct EarlyStop {
    bool from_remote;
    int status;
    std::string reason;
  };
  std::optional<EarlyStop> early_stop_;
  // The machine stops, or records why it must once it exists.
  void stop_machine(const EarlyStop& why);
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
  std::atomic<bool> stopped_by_node_zero_{false};
  std::atomic<bool> announced_{false};

  // DSM: messages that arrive before the engine exists wait here.
  std::mutex dsm_mu_;
  std::unique_ptr<dsm::DsmEngine> engine_;
  std::vector<dsm::Message> early_dsm_;

  // Forwarded I/O waiting for node 0's answer.
  std::mutex io_mu_;
  std::condition_variable io_cv_;
  uint64_t next_io_id_ = 1;
  std::map<uint64_t, std::optional<uint64_t>> io_waiting_;
  // Node 0: requests to serve, off the receive thread (a device may block).
  std::deque<std::pair<uint32_t, net::IoRequest>> io_queue_;
  std::thread io_server_;

  // Start barrier.
  std::mutex start_mu_;
  std::condition_variable start_cv_;
  uint32_t ready_ = 0;
  bool start_ = false;

  std::chrono::microseconds fault_spin_;
  bool page_heat_ = false;
  static constexpr size_t kHottestPagesShown = 5;
  // Per node, Clock ticks; written by whichever thread takes a frame.
  std::unique_ptr<std::atomic<Clock::rep>[]> last_heard_;
  std::atomic<uint64_t> ipis_forwarded_{0}, io_forwarded_{0}, ios_served_{0};
  std::thread receiver_;
};

ClusterNode::ClusterNode(const machine::MachineConfig& config, const NodeOptions& options)
    : config_(config), self_(config.node_id), nodes_(config.node_count) {
  net::UcxTransport::Options t;
  t.self = self_;
  t.nodes = nodes_;
  t.kind = options.transport == "tcp" ? net::UcxTransport::Kind::Tcp : net::UcxTransport::Kind::SharedMemory;
  t.addresses = options.addresses;
  t.build_id = kProtocolBuildId;
  t.busy_poll = options.busy_poll;
  transport_ = std::make_unique<net::UcxTransport>(t);
  fault_spin_ = options.fault_spin;
  page_heat_ = options.page_heat;
  last_heard_ = std::make_unique<std::atomic<Clock::rep>[]>(nodes_);
  for (uint32_t n = 0; n < nodes_; ++n) last_heard_[n] = Clock::now().time_since_epoch().count();
  receiver_ = std::thread([this] { receive_loop(); });
  if (self_ == 0) io_server_ = std::thread([this] { io_server_loop(); });
}

ClusterNode::~ClusterNode() { shutdown(); }

void ClusterNode::shutdown() {
  if (done_.exchange(true)) return;
  stopping_ = true;
  stop_engine();
  io_cv_.notify_all();
  start_cv_.notify_all();
  transport_->wakeup();
  if (receiver_.joinable()) receiver_.join();
  if (io_server_.joinable()) io_server_.join();
  transport_->close();
}

void ClusterNode::send(uint32_t to, const net::Message& message) { transport_->send(to, net::encode(message, self_)); }

void ClusterNode::attach_memory(const memory::GuestMemory& memory) {
  auto plan = machine::numa_plan(config_, memory.layout());
  uint32_t nodes = nodes_;
  if (config_.preallocate) {
    // Refused here, from the plan, before the engine walks every page of a
    // guest that may be far larger than the host (DsmEngine checks again).
    uint64_t share = 0;
    for (uint32_t n = 0; n < plan.nodes.size(); ++n)
      if (n % nodes == self_)
        for (const auto& r : plan.nodes[n].memory) share += r.end() - r.gpa;
    memory::check_can_populate(share, fmt::format("node {}", self_));
  }
  dsm::NodeProtocol protocol(
      self_, nodes_,
      [plan, nodes, layout = memory.layout()](dsm::PageNumber page) {
        uint64_t gpa = page << 12;
        if (!layout.is_ram(gpa, dsm::kPageSize)) return dsm::kMaxNodes;  // no such page: read-ahead stops here
        return machine::home_node(plan, gpa, nodes);
      },
      dsm::Options{.prefetch = config_.dsm_prefetch, .claim = config_.dsm_claim, .preallocate = config_.preallocate});
  auto engine = std::make_unique<dsm::DsmEngine>(
      memory.slots(), std::move(protocol),
      [this](dsm::NodeId to, const dsm::Message& m) { transport_->send(to, net::encode(m, self_)); },
      [this](const dsm::ProtocolError& e) { fail(e.what); },  // it names the node already
      fault_spin_.count() == 0 ? dsm::DsmEngine::AwaitFunction{} : [this](const std::function<bool()>& answered) {
        try {
          transport_->spin(fault_spin_, [this](net::NodeId from, std::span<const uint8_t> frame) { on_frame(from, frame); },
                           answered);
        } catch (const std::exception& e) {
          fail(e.what());  // as on the receive thread
        }
      });
  engine->set_hold(std::chrono::microseconds(config_.dsm_hold_us));
  if (page_heat_) engine->count_faults_per_page();
  engine->start();
  std::lock_guard lock(dsm_mu_);
  engine_ = std::move(engine);
  for (auto& m : early_dsm_) engine_->deliver(std::move(m));
  early_dsm_.clear();
}

uint64_t ClusterNode::forward_io(const machine::IoAccess& access) {
  net::IoRequest r;
  r.vcpu = access.vcpu;
  r.space = access.mmio ? net::IoRequest::Mmio : net::IoRequest::Port;
  r.is_write = access.is_write;
  r.address = access.address;
  r.size = access.size;
  r.data = access.data;
  std::unique_lock lock(io_mu_);
  r.id = next_io_id_++;
  io_waiting_[r.id] = std::nullopt;
  lock.unlock();
  send(0, r);
  io_forwarded_++;
  lock.lock();
  bool answered = io_cv_.wait_for(lock, kIoTimeout, [&] { return io_waiting_[r.id].has_value() || stopping_; });
  auto value = io_waiting_[r.id];
  io_waiting_.erase(r.id);
  if (value) return *value;
  if (!answered) throw std::runtime_error(fmt::format("no answer in {} ms", kIoTimeout.count()));
  return ~uint64_t{0};  // stopping: the value no longer matters
}

void ClusterNode::send_interrupt(uint32_t node, const irq::InterruptMessage& message) {
  ipis_forwarded_++;
  send(node, net::InterruptMessage{message});
}

void ClusterNode::announce_stop(int status, const std::string& reason) {
  net::Stop stop{status, reason.substr(0, net::kMaxStopReason)};
  for (uint32_t n = 0; n < nodes_; ++n)
    if (n != self_) send(n, stop);
  announced_ = true;
}

void ClusterNode::machine_stopping() {
  stopping_ = true;
  io_cv_.notify_all();
  start_cv_.notify_all();
  // A vCPU blocked on a page of a node that has gone would never wake: from
  // here on memory is plain local memory (the engine's stop,
  // docs/teardown.md).
  stop_engine();
}

void ClusterNode::release_memory() noexcept {
  try {
    stop_engine();
  } catch (const std::exception& e) {
    fmt::print(stderr, "amalgam: node {}: releasing guest memory: {}\n", self_, e.what());
  }
}

void ClusterNode::stop_engine() {
  // Not under dsm_mu_: stop() joins the fault thread, which may be waiting
  // for dsm_mu_ in dispatch() while it awaits an answer.
  dsm::DsmEngine* engine;
  {
    std::lock_guard lock(dsm_mu_);
    engine = engine_.get();
  }
  if (!engine) return;
  try {
    engine->stop();
  } catch (const StuckThreadError& e) {
    exit_on_stuck_thread(e.what(), dsm::kFaultThreadStopLimit, machine::kStatusMachineFailure);
  }
}

bool ClusterNode::wait_for_start() {
  std::unique_lock lock(start_mu_);
  if (self_ == 0) {
    if (!start_cv_.wait_for(lock, kStartTimeout, [&] { return ready_ == nodes_ - 1 || stopping_; })) {
      lock.unlock();
      fail(fmt::format("only {} of {} nodes were ready within {} s", ready_ + 1, nodes_, kStartTimeout.count() / 1000));
      return false;
    }
    if (stopping_) return false;
    lock.unlock();
    for (uint32_t n = 1; n < nodes_; ++n) send(n, net::Start{});
    return true;
  }
  lock.unlock();
  send(0, net::Ready{});
  lock.lock();
  if (!start_cv_.wait_for(lock, kStartTimeout, [&] { return start_ || stopping_; })) {
    lock.unlock();
    fail(fmt::format("node 0 did not start the machine within {} s", kStartTimeout.count() / 1000));
    return false;
  }
  return start_ && !stopping_;
}

void ClusterNode::fail(const std::string& reason) { stop_machine({false, machine::kStatusMachineFailure, reason}); }

void ClusterNode::stop_machine(const EarlyStop& why) {
  machine::Machine* m;
  {
    std::lock_guard lock(machine_mu_);
    m = machine_.load();
    if (!m) {
      stopping_ = true;
      if (!early_stop_) early_stop_ = why;
      start_cv_.notify_all();
      return;
    }
  }
  if (why.from_remote) m->stop_from_remote(why.status, why.reason);
  else m->fail(why.reason);
}

void ClusterNode::set_machine(machine::Machine* machine) {
  std::optional<EarlyStop> early;
  {
    std::lock_guard lock(machine_mu_);
    machine_.store(machine);
    if (machine) early = std::exchange(early_stop_, std::nullopt);
  }
  if (early) stop_machine(*early);
}

void ClusterNode::receive_loop() {
  auto next_heartbeat = Clock::now();
  uint64_t seq = 0;
  while (!done_) {
    try {
      bool open = transport_->poll(kHeartbeatInterval,
                                   [this](net::NodeId from, std::span<const uint8_t> frame) { on_frame(from, frame); });
      if (!open) break;
      if (Clock::now() >= next_heartbeat) {
        ++seq;
        for (uint32_t n = 0; n < nodes_; ++n)
          if (n != self_) send(n, net::Heartbeat{seq});
        next_heartbeat = Clock::now() + kHeartbeatInterval;
      }
      check_peers();
    } catch (const std::exception& e) {
      // A malformed message names its sender; the machine stops on it.
      fail(e.what());
      if (stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

void ClusterNode::on_frame(net::NodeId from, std::span<const uint8_t> frame) {
  last_heard_[from] = Clock::now().time_since_epoch().count();
  dispatch(from, net::decode(frame, from));
}

void ClusterNode::check_peers() {
  if (stopping_) return;
  auto now = Clock::now();
  for (uint32_t n = 0; n < nodes_; ++n) {
    auto silent = now - Clock::time_point(Clock::duration(last_heard_[n].load()));
    if (n != self_ && silent > kPeerTimeout) {
      fail(fmt::format("node {} stopped answering (nothing heard for {} ms)", n,
                       std::chrono::duration_cast<std::chrono::milliseconds>(silent).count()));
      return;
    }
  }
}

void ClusterNode::dispatch(uint32_t from, net::Message message) {
  std::visit(
      [&](auto&& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, net::DsmMessage>) {
          std::lock_guard lock(dsm_mu_);
          if (engine_)
            engine_->deliver(std::move(m.message));
          else
            early_dsm_.push_back(std::move(m.message));
        } else if constexpr (std::is_same_v<T, net::InterruptMessage>) {
          if (auto* machine = machine_.load()) machine->deliver_remote_interrupt(m.message);
        } else if constexpr (std::is_same_v<T, net::IoRequest>) {
          if (self_ != 0) throw std::runtime_error(fmt::format("node {}: I/O request to node {}, which has no devices", from, self_));
          std::lock_guard lock(io_mu_);
          io_queue_.emplace_back(from, m);
          io_cv_.notify_all();
        } else if constexpr (std::is_same_v<T, net::IoReply>) {
          std::lock_guard lock(io_mu_);
          auto it = io_waiting_.find(m.id);
          if (it == io_waiting_.end()) throw std::runtime_error(fmt::format("node {}: reply to unknown I/O request {}", from, m.id));
          it->second = m.data;
          io_cv_.notify_all();
        } else if constexpr (std::is_same_v<T, net::Stop>) {
          if (from == 0) stopped_by_node_zero_ = true;
          stopping_ = true;
          start_cv_.notify_all();
          stop_machine({true, m.status, m.reason});
        } else if constexpr (std::is_same_v<T, net::Ready>) {
          std::lock_guard lock(start_mu_);
          ready_++;
          start_cv_.notify_all();
        } else if constexpr (std::is_same_v<T, net::Start>) {
          std::lock_guard lock(start_mu_);
          start_ = true;
          start_cv_.notify_all();
        } else {
          // Hello is the transport's; heartbeats only refresh last_heard_.
        }
      },
      message);
}

void ClusterNode::io_server_loop() {
  std::unique_lock lock(io_mu_);
  while (!done_) {
    io_cv_.wait(lock, [&] { return !io_queue_.empty() || done_; });
    while (!io_queue_.empty()) {
      auto [from, r] = io_queue_.front();
      io_queue_.pop_front();
      lock.unlock();
      // A device's work can fail too (an interrupt it raises for a node that
      // has gone): the machine stops with the reason, this thread goes on.
      try {
        uint64_t value = 0;
        if (auto* machine = machine_.load())
          value = machine->serve_io({r.vcpu, r.space == net::IoRequest::Mmio, r.is_write, r.address, r.size, r.data});
        ios_served_++;
        send(from, net::IoReply{r.id, value});
      } catch (const std::exception& e) {
        fail(fmt::format("serving node {}'s I/O: {}", from, e.what()));
      }
      lock.lock();
    }
  }
}

std::string ClusterNode::stats_line() const {
  dsm::EngineStats s;
  std::vector<std::pair<dsm::PageNumber, uint32_t>> hottest;
  {
    auto* self = const_cast<ClusterNode*>(this);
    std::lock_guard lock(self->dsm_mu_);
    if (engine_) {
      s = engine_->stats();
      hottest = engine_->hottest_pages(kHottestPagesShown);
    }
  }
  const auto& p = s.protocol;
  std::string line = fmt::format(
      "read_faults={} write_faults={} zero_fills={} preallocated={} invalidations_sent={} invalidations_received={} "
      "pages_in={} pages_out={} bytes_in={} bytes_out={} held={} ipis_forwarded={} io_forwarded={} io_served={}",
      p.read_faults, p.write_faults, p.zero_fills, s.preallocated_pages, p.invalidations_sent, p.invalidations_received,
      p.pages_received, p.pages_sent, p.bytes_received, p.bytes_sent, s.held_messages, ipis_forwarded_.load(),
      io_forwarded_.load(), ios_served_.load());
  for (size_t i = 0; i < hottest.size(); ++i)
    line += fmt::format("{}{:#x}:{}", i == 0 ? " hottest_pages=" : ",", hottest[i].first << 12, hottest[i].second);
  return line;
}

}  // namespace

std::vector<std::string> parse_addresses(const std::string& text, uint32_t nodes) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t colon = item.rfind(':');
    if (item.empty() || colon == std::string::npos || colon == 0 || colon + 1 == item.size())
      throw UsageError(fmt::format("--addresses {}: '{}' is not host:port", text, item));
    out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (out.size() != nodes)
    throw UsageError(fmt::format("--addresses {}: {} addresses for {} nodes", text, out.size(), nodes));
  return out;
}

namespace {
bool result_is_reported_by_node_zero(const machine::MachineResult& r) { return !r.by_signal; }
}  // namespace

machine::MachineResult run_node(machine::MachineConfig config, NodeOptions options, bool stats) {
  options.page_heat = stats;
  config.forward_stdin = config.node_id == 0;
  bool node_zero = config.node_id == 0;
  // Node 0 keeps the time limit and stops the others when it runs out.
  if (!node_zero) config.timeout_seconds = 0;
  ClusterNode node(config, options);
  machine::MachineResult result;
  {
    machine::Machine machine(std::move(config), &node);
    struct ReleaseFirst {  // destroyed before `machine`, also on an exception
      ClusterNode& node;
      ~ReleaseFirst() { node.release_memory(); }
    } release_first{node};
    node.set_machine(&machine);
    result = machine.run();
    if (stats) fmt::print(stderr, "{}", machine.stats_report());
    node.set_machine(nullptr);
  }
  // A node that node 0 stopped ends with status 0: node 0 speaks for the machine.
  bool quiet = !node_zero && node.node_zero_knows() && result_is_reported_by_node_zero(result);
  node.shutdown();
  if (quiet) result = {};
  return result;
}

}  // namespace amalgam::cluster
