#include "net/ucx_transport.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <ucp/api/ucp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "common/error.hpp"
#include "common/fault_trace.hpp"
#include "net/messages.hpp"
#include "net/ucx_internals.hpp"

namespace amalgam::net {

UcxTransport::UcxTransport(Options options) : options_(std::move(options)), state_(std::make_unique<State>()) {
  const auto& o = options_;
  if (o.nodes == 0 || o.nodes > dsm::kMaxNodes || o.self >= o.nodes) {
    throw std::invalid_argument(fmt::format("UCX transport: node {} of {} nodes", o.self, o.nodes));
  }
  if (o.addresses.size() != o.nodes) {
    throw std::invalid_argument(
        fmt::format("UCX transport: {} addresses for {} nodes", o.addresses.size(), o.nodes));
  }
  bool all_loopback = true;
  state_->peers.resize(o.nodes);
  for (NodeId n = 0; n < o.nodes; ++n) {
    Peer& p = state_->peers[n];
    p.owner = this;
    p.id = n;
    p.address = o.addresses[n];
    p.sockaddr = resolve(p.address, n);
    all_loopback &= p.sockaddr.loopback;
  }
  // The connections go over tcp whatever the kind (UCX 1.13 sets up a
  // client-server connection only over a device of a selected transport);
  // SharedMemory's data goes over a second worker, of shared memory only.
  tls_ = o.kind == Kind::SharedMemory ? "posix,sysv,cma,self; connections tcp,self" : "tcp,self";
  net_devices_ = o.net_devices;
  if (net_devices_.empty() && all_loopback) net_devices_ = "lo";
  init_ucx();
  listen();
  wire_up();
}

UcxTransport::~UcxTransport() { close(); }

void UcxTransport::fail(const char* call, int status) const {
  throw TransportError(
      fmt::format("node {}: {}: {}", options_.self, call, ucs_status_string(static_cast<ucs_status_t>(status))));
}

std::string UcxTransport::peer_name(NodeId node) const {
  return fmt::format("node {} ({})", node, options_.addresses.at(node));
}


void UcxTransport::send_tagged(Peer& peer, Tag tag, std::vector<uint8_t> bytes) {
  // Kept until UCX has sent them or copied them (eager sends do at once).
  State::Outgoing out{peer.id, std::move(bytes), {}};
  ucp_request_param_t param{};
  uint64_t ucp_tag = (uint64_t{static_cast<uint32_t>(tag)} << 32) | options_.self;
  Endpoint& via = tag == Tag::Data && peer.data_ep ? peer.data_ep : peer.ep;
  out.request = Request(ucp_tag_send_nbx(via.get(), out.bytes.data(), out.bytes.size(), ucp_tag, &param));
  ucs_status_t s = out.request.status();
  if (s == UCS_INPROGRESS) {
    state_->sends.push_back(std::move(out));
  } else if (s != UCS_OK) {
    peer.error = s;
  }
}

void UcxTransport::progress() {
  auto drive = [](ucp_worker_h worker) {
    for (int i = 0; i < 64 && ucp_worker_progress(worker) != 0; ++i) {
    }
  };
  // The data worker every time. The connections' worker, whose tcp progress
  // is an epoll_wait, every time only while it carries frames (Tcp, and
  // wire-up); after that it carries only the news of a peer that is gone, so
  // once per kConnectionsProgressEvery, or when sleep() found it signalled.
  if (state_->data_worker) drive(state_->data_worker.get());
  auto now = Clock::now();
  if (!state_->data_worker || !state_->wired || state_->connections_due ||
      now - state_->connections_progressed >= kConnectionsProgressEvery) {
    drive(state_->worker.get());
    state_->connections_progressed = now;
    state_->connections_due = false;
  }
  take_arrivals();
  finish_requests();
}

void UcxTransport::take_arrivals() {
  for (ucp_worker_h worker : state_->workers) {
    for (;;) {
      ucp_tag_recv_info_t info{};
      ucp_tag_message_h message = ucp_tag_probe_nb(worker, 0, 0, 1, &info);
      if (!message) break;
      State::Incoming in;
      in.from = static_cast<NodeId>(info.sender_tag & kSenderBits);
      in.tag = static_cast<uint32_t>(info.sender_tag >> 32);
      // One byte over the maximum is enough for the decoder to see a frame too long.
      in.bytes.resize(std::min(info.length, kMaxFrame + 1));
      ucp_request_param_t param{};
      in.request = Request(ucp_tag_msg_recv_nbx(worker, in.bytes.data(), in.bytes.size(), message, &param));
      state_->incoming.push_back(std::move(in));
    }
  }
  auto& incoming = state_->incoming;
  while (!incoming.empty() && incoming.front().request.done()) {
    State::Incoming in = std::move(incoming.front());
    incoming.pop_front();
    ucs_status_t s = in.request.status();
    bool usable = s == UCS_OK || s == UCS_ERR_MESSAGE_TRUNCATED;
    if (!usable || in.from >= options_.nodes || in.from == options_.self) continue;  // not from a peer
    if (in.tag == static_cast<uint32_t>(Tag::Hello)) {
      on_hello(in.from, in.bytes);
    } else if (in.tag == static_cast<uint32_t>(Tag::Address)) {
      if (s == UCS_OK) {
        on_address(in.from, in.bytes);
      } else if (state_->refusal.empty()) {  // truncated: longer than any frame
        state_->refusal = fmt::format("{}: sent a worker address over {} bytes", peer_name(in.from), kMaxFrame);
      }
    } else if (in.tag == static_cast<uint32_t>(Tag::Data)) {
      state_->ready.push_back(std::move(in));
    }
  }
}

void UcxTransport::finish_requests() {
  auto& sends = state_->sends;
  std::erase_if(sends, [&](const State::Outgoing& out) {
    ucs_status_t s = out.request.status();
    if (s == UCS_INPROGRESS) return false;
    Peer& peer = state_->peers[out.to];
    if (s != UCS_OK && peer.error == UCS_OK) peer.error = s;
    return true;
  });
  std::erase_if(state_->closing, [](const Request& r) { return r.done(); });
}

void UcxTransport::send(NodeId to, std::vector<uint8_t> frame) {
  check_send(to, frame);
  std::lock_guard lock(mutex_);
  if (closed_) throw TransportError(fmt::format("node {}: send to node {} after close", options_.self, to));
  Peer& peer = state_->peers[to];
  if (peer.error == UCS_OK) send_tagged(peer, Tag::Data, std::move(frame));
  if (peer.error != UCS_OK) {
    throw TransportError(fmt::format("{}: connection failed: {}", peer_name(to), ucs_status_string(peer.error)));
  }
}

UcxTransport::Took UcxTransport::take_frames(bool wait, const FrameHandler& on_frame) {
  std::vector<State::Incoming> frames;
  {
    std::unique_lock lock(mutex_, std::defer_lock);
    if (wait) {
      lock.lock();
    } else if (!lock.try_lock()) {
      return closed_ ? Took::Closed : Took::Nothing;
    }
    if (closed_) return Took::Closed;
    progress();
    frames.swap(state_->ready);
  }
  if (frames.empty()) return Took::Nothing;
  fault_trace::mark(fault_trace::Step::FramesArrived);
  for (const auto& f : frames) on_frame(f.from, f.bytes);
  return Took::Frames;
}

bool UcxTransport::poll(std::chrono::milliseconds timeout, const FrameHandler& on_frame) {
  auto start = Clock::now();
  auto deadline = start + timeout;
  for (;;) {
    Took took = take_frames(timeout.count() > 0, on_frame);
    if (took != Took::Nothing) return took == Took::Frames;
    auto now = Clock::now();
    if (now >= deadline) return true;
    if (now - start < options_.busy_poll) {
      // A spinning thread takes the frames meanwhile; wait for it to end.
      uint32_t ends = spin_ends_.load(std::memory_order_acquire);
      if (spinners_.load(std::memory_order_acquire) > 0) spin_ends_.wait(ends, std::memory_order_acquire);
      continue;
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    if (!sleep(left)) return !closed_;
  }
}

bool UcxTransport::spin(std::chrono::microseconds budget, const FrameHandler& on_frame,
                        const std::function<bool()>& done) {
  // The loop is Transport's (poll() with a zero timeout never waits for the
  // worker's mutex); around it, what keeps poll() in another thread out of the way.
  bool open = false;
  try {
    if (spinners_.fetch_add(1, std::memory_order_acq_rel) == 0) listen_to_worker(false);
    open = Transport::spin(budget, on_frame, done);
  } catch (...) {
    leave_spin();
    throw;
  }
  leave_spin();
  return open && !closed_;
}

void UcxTransport::leave_spin() {
  if (spinners_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  listen_to_worker(true);
  end_spin_waits();
}

void UcxTransport::end_spin_waits() {
  spin_ends_.fetch_add(1, std::memory_order_acq_rel);
  spin_ends_.notify_all();
}

void UcxTransport::listen_to_worker(bool on) {
  // A thread asleep in sleep() armed the worker: the next frame makes the
  // peer signal the worker's fd. While a thread spins, that wake-up would
  // only take a CPU from it, so sleep() stops listening to the fd. After
  // the spin the worker is armed again, which also clears a signal that came
  // meanwhile; if frames are waiting (UCS_ERR_BUSY) no signal will come for
  // them, so a sleeping poll() is woken to take them.
  std::lock_guard lock(listen_mutex_);
  bool waiting = false;
  if (on) {
    std::lock_guard worker(mutex_);
    if (!closed_) waiting = !arm_workers();
  }
  for (int fd : worker_fds_) {
    epoll_event ev{};
    ev.events = on ? uint32_t{EPOLLIN} : 0;
    ev.data.fd = fd;
    check_syscall(epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev), "epoll_ctl");
  }
  if (waiting) wakeup();
}

bool UcxTransport::arm_workers() {
  for (ucp_worker_h worker : state_->workers) {
    ucs_status_t s = ucp_worker_arm(worker);
    if (s == UCS_ERR_BUSY) {
      state_->connections_due |= worker == state_->worker.get();
      return false;
    }
    if (s != UCS_OK) fail("ucp_worker_arm", s);
  }
  return true;
}

bool UcxTransport::sleep(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (!arm_workers()) return true;  // events to progress first
  }
  epoll_event events[2];
  int n = epoll_wait(epoll_.get(), events, 2, static_cast<int>(std::min<std::chrono::milliseconds>(timeout, kMaxSleep).count()));
  if (n < 0 && errno != EINTR) throw SystemError("epoll_wait", errno);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == wake_.get()) {
      uint64_t count;
      if (read(wake_.get(), &count, sizeof count) < 0 && errno != EAGAIN) throw SystemError("read eventfd", errno);
      return false;
    }
  }
  return true;
}

void UcxTransport::wakeup() {
  uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof one) < 0 && errno != EAGAIN) throw SystemError("write eventfd", errno);
}

void UcxTransport::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_.exchange(true)) return;
    close_endpoints();
  }
  wakeup();
  end_spin_waits();
}

void UcxTransport::close_endpoints() {
  // Let queued sends finish (bounded by close_timeout), then disconnect
  // without waiting for the peers: they may be closing too, and not polling.
  auto deadline = Clock::now() + options_.close_timeout;
  auto drain = [&](auto& requests) {
    while (!requests.empty() && Clock::now() < deadline) {
      for (ucp_worker_h worker : state_->workers) ucp_worker_progress(worker);
      finish_requests();
    }
  };
  drain(state_->sends);
  for (Peer& p : state_->peers) {
    for (Endpoint* ep : {&p.data_ep, &p.ep}) {
      if (*ep) state_->closing.push_back(ep->close(true));
    }
  }
  drain(state_->closing);
  state_->listener.reset();
  discard_unexpected(deadline);
}

void UcxTransport::discard_unexpected(Clock::time_point deadline) {
  // Frames that came and that nobody will take now (a peer's last words
  // while this node stops early) are received and dropped: left in the
  // worker, UCX warns of each one on stderr when the worker goes.
  std::vector<uint8_t> sink(kMaxFrame + 1);
  for (ucp_worker_h worker : state_->workers) {
    for (;;) {
      ucp_tag_recv_info_t info{};
      ucp_tag_message_h message = ucp_tag_probe_nb(worker, 0, 0, 1, &info);
      if (!message) break;
      ucp_request_param_t param{};
      Request r(ucp_tag_msg_recv_nbx(worker, sink.data(), std::min(info.length, sink.size()), message, &param));
      while (!r.done() && Clock::now() < deadline) ucp_worker_progress(worker);
      if (!r.done()) return;  // out of time: the worker's teardown cancels it
    }
  }
}

std::string UcxTransport::endpoint_info(NodeId peer) {
  std::lock_guard lock(mutex_);
  if (peer >= options_.nodes || !state_->peers[peer].ep) return {};
  const Peer& p = state_->peers[peer];
  char* text = nullptr;
  size_t size = 0;
  FILE* stream = open_memstream(&text, &size);
  if (!stream) throw SystemError("open_memstream", errno);
  ucp_ep_print_info((p.data_ep ? p.data_ep : p.ep).get(), stream);
  std::fclose(stream);
  std::string out(text, size);
  std::free(text);
  return out;
}

}  // namespace amalgam::net
