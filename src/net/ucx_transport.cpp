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

namespace amalgam::net {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint64_t kSenderBits = 0xFFFF'FFFF;  // low half of a tag: the sender; high half: the Tag kind
constexpr auto kRetryDelay = 100ms;            // before connecting again to a node that refused
constexpr auto kMaxSleep = 100ms;              // one wait on the workers' event fds, at most
// How often the connections' worker is progressed once wired up, when it has
// not signalled anything (see progress()).
constexpr auto kConnectionsProgressEvery = 1ms;

template <auto Release>
struct Releaser {
  template <class T>
  void operator()(T* p) const {
    Release(p);
  }
};
using ConfigPtr = std::unique_ptr<ucp_config_t, Releaser<ucp_config_release>>;
using ContextPtr = std::unique_ptr<ucp_context, Releaser<ucp_cleanup>>;
using WorkerPtr = std::unique_ptr<ucp_worker, Releaser<ucp_worker_destroy>>;
using ListenerPtr = std::unique_ptr<ucp_listener, Releaser<ucp_listener_destroy>>;

// What a UCX non-blocking call returned: an error, immediate completion, or
// a request in progress, which is freed exactly once. UCX may still use the
// operation's buffer until the request completes (or the worker is gone).
class Request {
 public:
  Request() = default;
  explicit Request(ucs_status_ptr_t p) {
    if (UCS_PTR_IS_ERR(p)) {
      status_ = UCS_PTR_STATUS(p);
    } else if (p != nullptr) {
      request_ = p;
    }
  }
  Request(Request&& o) noexcept : request_(std::exchange(o.request_, nullptr)), status_(o.status_) {}
  Request& operator=(Request&& o) noexcept {
    if (this != &o) {
      release();
      request_ = std::exchange(o.request_, nullptr);
      status_ = o.status_;
    }
    return *this;
  }
  ~Request() { release(); }
  // UCS_INPROGRESS, UCS_OK or the error.
  ucs_status_t status() const { return request_ ? ucp_request_check_status(request_) : status_; }
  bool done() const { return status() != UCS_INPROGRESS; }

 private:
  void release() {
    if (request_) ucp_request_free(request_);
    request_ = nullptr;
  }
  void* request_ = nullptr;
  ucs_status_t status_ = UCS_OK;
};

}  // namespace

// An endpoint; closing it is a request the worker must progress.
class UcxTransport::Endpoint {
 public:
  Endpoint() = default;
  explicit Endpoint(ucp_ep_h ep) : ep_(ep) {}
  Endpoint(Endpoint&& o) noexcept : ep_(std::exchange(o.ep_, nullptr)) {}
  Endpoint& operator=(Endpoint&& o) noexcept {
    if (this != &o) {
      close(true);
      ep_ = std::exchange(o.ep_, nullptr);
    }
    return *this;
  }
  ~Endpoint() { close(true); }
  ucp_ep_h get() const { return ep_; }
  explicit operator bool() const { return ep_ != nullptr; }
  // Flush (force: drop) what is queued and disconnect.
  Request close(bool force) {
    if (!ep_) return Request();
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
    return Request(ucp_ep_close_nbx(std::exchange(ep_, nullptr), &param));
  }

 private:
  ucp_ep_h ep_ = nullptr;
};

namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  bool loopback = false;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// "host:port" or "[v6]:port", numeric or a name.
Address resolve(const std::string& text, NodeId node) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument(fmt::format("node {} address \"{}\": {}", node, text, why));
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) throw bad("want host:port");
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int err = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); err != 0) throw bad(gai_strerror(err));
  std::unique_ptr<addrinfo, Releaser<freeaddrinfo>> owner(found);
  Address a;
  a.length = found->ai_addrlen;
  std::memcpy(&a.storage, found->ai_addr, found->ai_addrlen);
  if (found->ai_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
    a.loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  } else if (found->ai_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(found->ai_addr);
    a.loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return a;
}

std::string seconds(std::chrono::milliseconds d) { return fmt::format("{:g} s", d.count() / 1000.0); }

}  // namespace

struct UcxTransport::Peer {
  UcxTransport* owner = nullptr;
  NodeId id = 0;
  std::string address;
  Address sockaddr;
  Endpoint ep;       // the client-server connection (wire-up; data too for Tcp)
  Endpoint data_ep;  // SharedMemory: created from the peer's worker address
  ucs_status_t error = UCS_OK;  // an endpoint failed (or could not be created)
  bool hello_in = false;        // its Hello has come
  bool hello_out = false;       // this node's Hello went out on `ep`
  Clock::time_point retry_at{};
  bool wired(bool need_data_ep) const {
    return ep && error == UCS_OK && hello_in && hello_out && (data_ep || !need_data_ep);
  }
};

struct UcxTransport::State {
  struct Incoming {
    NodeId from = 0;
    uint32_t tag = 0;
    std::vector<uint8_t> bytes;
    Request request;
  };
  struct Outgoing {
    NodeId to = 0;
    std::vector<uint8_t> bytes;
    Request request;
  };

  // The connections: listener, each peer's `ep` (tcp). For Tcp the frames too.
  ContextPtr context;
  WorkerPtr worker;
  // SharedMemory: the data endpoints, in a context of shared-memory transports
  // only, so that polling for frames costs no system call (tcp's progress is
  // an epoll_wait each time).
  ContextPtr data_context;
  WorkerPtr data_worker;
  Clock::time_point connections_progressed{};
  bool connections_due = false;  // the connections' worker has events: progress it next
  ListenerPtr listener;
  std::vector<Peer> peers;
  std::deque<Incoming> incoming;  // in arrival order; some still being received
  std::vector<Incoming> ready;    // complete data frames for the next poll()
  std::vector<Outgoing> sends;    // in progress
  std::vector<Request> closing;   // endpoint closes in progress
  std::vector<uint8_t> address;   // the data worker's (SharedMemory)
  std::string refusal;            // why wire-up must fail (a peer that does not fit)
  bool wired = false;

  std::vector<ucp_worker_h> workers;  // both of the above: the data worker first, where there is one

  ~State() {
    // Requests first (their buffers stay alive until the workers are gone:
    // UCX may still write an unfinished receive), then endpoints, listener,
    // workers and contexts.
    std::vector<std::vector<uint8_t>> buffers;
    for (auto& in : incoming) buffers.push_back(std::move(in.bytes));
    for (auto& out : sends) buffers.push_back(std::move(out.bytes));
    incoming.clear();
    sends.clear();
    closing.clear();
    peers.clear();
    listener.reset();
    data_worker.reset();
    worker.reset();
    data_context.reset();
    context.reset();
  }
};

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

void UcxTransport::init_ucx() {
  auto open = [&](const std::string& tls, bool net_devices, const std::string& name, ContextPtr& context_slot,
                  WorkerPtr& worker_slot) {
    ucp_config_t* raw_config = nullptr;
    if (auto s = ucp_config_read(nullptr, nullptr, &raw_config); s != UCS_OK) fail("ucp_config_read", s);
    ConfigPtr config(raw_config);
    if (auto s = ucp_config_modify(config.get(), "TLS", tls.c_str()); s != UCS_OK) fail("ucp_config_modify TLS", s);
    if (net_devices && !net_devices_.empty()) {
      if (auto s = ucp_config_modify(config.get(), "NET_DEVICES", net_devices_.c_str()); s != UCS_OK) {
        fail("ucp_config_modify NET_DEVICES", s);
      }
    }
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_NAME;
    params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
    params.name = name.c_str();
    ucp_context_h context = nullptr;
    if (auto s = ucp_init(&params, config.get(), &context); s != UCS_OK) fail("ucp_init", s);
    context_slot.reset(context);

    ucp_worker_params_t wp{};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE | UCP_WORKER_PARAM_FIELD_CLIENT_ID;
    wp.thread_mode = UCS_THREAD_MODE_SINGLE;  // mutex_ serialises every use
    wp.client_id = options_.self;
    ucp_worker_h worker = nullptr;
    if (auto s = ucp_worker_create(context, &wp, &worker); s != UCS_OK) fail("ucp_worker_create", s);
    worker_slot.reset(worker);
  };
  open("tcp,self", true, fmt::format("amalgam-node-{}", options_.self), state_->context, state_->worker);
  if (options_.kind == Kind::SharedMemory) {
    open("posix,sysv,cma,self", false, fmt::format("amalgam-node-{}-data", options_.self), state_->data_context,
         state_->data_worker);
    ucp_worker_h worker = state_->data_worker.get();
    ucp_address_t* address = nullptr;
    size_t length = 0;
    if (auto s = ucp_worker_get_address(worker, &address, &length); s != UCS_OK) fail("ucp_worker_get_address", s);
    auto* bytes = reinterpret_cast<const uint8_t*>(address);
    state_->address.assign(bytes, bytes + length);
    ucp_worker_release_address(worker, address);
    state_->workers.push_back(worker);
  }
  state_->workers.push_back(state_->worker.get());

  epoll_ = UniqueFd(static_cast<int>(check_syscall(epoll_create1(EPOLL_CLOEXEC), "epoll_create1")));
  wake_ = UniqueFd(static_cast<int>(check_syscall(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd")));
  for (ucp_worker_h worker : state_->workers) {
    int fd = -1;
    if (auto s = ucp_worker_get_efd(worker, &fd); s != UCS_OK) fail("ucp_worker_get_efd", s);
    worker_fds_.push_back(fd);
  }
  auto watch = [&](int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    check_syscall(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev), "epoll_ctl");
  };
  watch(wake_.get());
  for (int fd : worker_fds_) watch(fd);
}

void UcxTransport::listen() {
  if (options_.self + 1 >= options_.nodes) return;  // nobody connects to the last node
  const Peer& me = state_->peers[options_.self];
  ucp_listener_params_t lp{};
  lp.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
  lp.sockaddr.addr = me.sockaddr.get();
  lp.sockaddr.addrlen = me.sockaddr.length;
  lp.conn_handler.cb = [](ucp_conn_request_h request, void* arg) {
    static_cast<UcxTransport*>(arg)->on_connection_request(request);
  };
  lp.conn_handler.arg = this;
  ucp_listener_h listener = nullptr;
  if (auto s = ucp_listener_create(state_->worker.get(), &lp, &listener); s != UCS_OK) {
    throw TransportError(fmt::format("node {}: listen on {}: {}{}", options_.self, me.address, ucs_status_string(s),
                                     s == UCS_ERR_BUSY ? " (address in use?)" : ""));
  }
  state_->listener.reset(listener);
}

int UcxTransport::create_endpoint(Peer& peer, Endpoint& slot, void* raw_params) {
  auto* p = static_cast<ucp_ep_params_t*>(raw_params);
  p->field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
  // Peer-failure handling rules out UCX 1.13's shared-memory transports (it
  // picks tcp instead): the SharedMemory data endpoint goes without it, and
  // the connection endpoint next to it reports a peer that is gone.
  p->err_mode = &slot == &peer.data_ep ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER;
  p->err_handler.arg = &peer;
  p->err_handler.cb = [](void* arg, ucp_ep_h ep, ucs_status_t status) {
    // From ucp_worker_progress(): record only.
    auto* failed = static_cast<Peer*>(arg);
    if (failed->ep.get() != ep && failed->data_ep.get() != ep) return;  // one already replaced
    failed->error = status;
    failed->retry_at = Clock::now() + kRetryDelay;
  };
  if (slot) state_->closing.push_back(slot.close(true));  // an earlier, failed attempt
  ucp_ep_h ep = nullptr;
  ucp_worker_h worker = &slot == &peer.data_ep ? state_->data_worker.get() : state_->worker.get();
  peer.error = ucp_ep_create(worker, p, &ep);
  peer.retry_at = Clock::now() + kRetryDelay;
  if (peer.error == UCS_OK) slot = Endpoint(ep);
  return peer.error;
}

void UcxTransport::on_connection_request(void* raw) {
  // Called from ucp_worker_progress(): no progress or blocking here.
  auto request = static_cast<ucp_conn_request_h>(raw);
  ucp_conn_request_attr_t attr{};
  attr.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ID;
  bool ok = ucp_conn_request_query(request, &attr) == UCS_OK;
  NodeId from = static_cast<NodeId>(attr.client_id);
  if (!ok || attr.client_id >= options_.nodes || from <= options_.self || state_->peers[from].hello_in) {
    ucp_listener_reject(state_->listener.get(), request);  // not a node that connects here (or a second time)
    return;
  }
  ucp_ep_params_t p{};
  p.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST;
  p.conn_request = request;
  Peer& peer = state_->peers[from];
  forget(peer);
  create_endpoint(peer, peer.ep, &p);
}

void UcxTransport::connect(Peer& peer) {
  ucp_ep_params_t p{};
  p.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR;
  p.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER | UCP_EP_PARAMS_FLAGS_SEND_CLIENT_ID;
  p.sockaddr.addr = peer.sockaddr.get();
  p.sockaddr.addrlen = peer.sockaddr.length;
  forget(peer);
  if (create_endpoint(peer, peer.ep, &p) == UCS_OK) say_hello(peer);
}

void UcxTransport::forget(Peer& peer) {
  if (peer.data_ep) state_->closing.push_back(peer.data_ep.close(true));
  peer.hello_in = peer.hello_out = false;
}

void UcxTransport::say_hello(Peer& peer) {
  send_tagged(peer, Tag::Hello, encode(Hello{options_.self, options_.nodes, options_.build_id}, options_.self));
  if (options_.kind == Kind::SharedMemory) send_tagged(peer, Tag::Address, state_->address);
  peer.hello_out = peer.error == UCS_OK;
}

void UcxTransport::on_address(NodeId from, std::span<const uint8_t> address) {
  Peer& peer = state_->peers[from];
  if (state_->wired || options_.kind != Kind::SharedMemory || peer.data_ep) return;
  ucp_ep_params_t p{};
  p.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
  p.address = reinterpret_cast<const ucp_address_t*>(address.data());
  create_endpoint(peer, peer.data_ep, &p);
}

void UcxTransport::wire_up() {
  auto& peers = state_->peers;
  auto deadline = Clock::now() + options_.connect_timeout;
  bool need_data_ep = options_.kind == Kind::SharedMemory;
  std::unique_lock lock(mutex_);
  for (NodeId n = 0; n < options_.self; ++n) connect(peers[n]);
  for (;;) {
    progress();
    auto now = Clock::now();
    bool all = true;
    for (Peer& p : peers) {
      if (p.id == options_.self || p.wired(need_data_ep)) continue;
      all = false;
      if (p.id < options_.self && p.error != UCS_OK && now >= p.retry_at) connect(p);  // refused: try again
      if (p.id > options_.self && p.ep && p.error == UCS_OK && (p.hello_in || !state_->refusal.empty()) &&
          !p.hello_out) {
        say_hello(p);
      }
    }
    if (!state_->refusal.empty() && (state_->sends.empty() || now >= deadline)) {
      throw TransportError(state_->refusal);
    }
    // Done when every peer has answered and this node's own Hellos have left:
    // after the constructor nothing progresses the worker until poll().
    if (all && state_->sends.empty()) break;
    if (now >= deadline) {
      for (const Peer& p : peers) {
        if (p.id == options_.self || p.wired(need_data_ep)) continue;
        std::string last = p.error == UCS_OK ? "" : fmt::format(" (last error: {})", ucs_status_string(p.error));
        if (p.id < options_.self) {
          throw TransportError(
              fmt::format("{}: connect timed out after {}{}", peer_name(p.id), seconds(options_.connect_timeout), last));
        }
        throw TransportError(fmt::format("{}: did not connect to node {} within {}{}", peer_name(p.id), options_.self,
                                         seconds(options_.connect_timeout), last));
      }
    }
    lock.unlock();
    sleep(std::min<std::chrono::milliseconds>(
        10ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + 1ms));
    lock.lock();
  }
  state_->wired = true;
}

void UcxTransport::on_hello(NodeId from, std::span<const uint8_t> bytes) {
  if (state_->wired) return;  // only during wire-up
  // A peer that does not fit is refused by wire_up(), after this node has
  // answered with its own Hello so that the peer can say what is wrong too.
  auto refuse = [&](const std::string& why) {
    if (state_->refusal.empty()) state_->refusal = fmt::format("{}: {}", peer_name(from), why);
  };
  Message m;
  try {
    m = decode(bytes, from);
  } catch (const DecodeError& e) {
    return refuse(fmt::format("bad Hello ({})", e.what()));
  }
  const auto* hello = std::get_if<Hello>(&m);
  if (!hello) return refuse(fmt::format("sent {} where a Hello belongs", to_string(type_of(m))));
  if (hello->node_count != options_.nodes) {
    return refuse(fmt::format("says there are {} nodes, node {} was told {}", hello->node_count, options_.self,
                              options_.nodes));
  }
  if (hello->build_id != options_.build_id) {
    return refuse(fmt::format("build {:#x}, node {} is build {:#x}", hello->build_id, options_.self, options_.build_id));
  }
  state_->peers[from].hello_in = true;
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
    } else if (in.tag == static_cast<uint32_t>(Tag::Address) && s == UCS_OK) {
      on_address(in.from, in.bytes);
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
