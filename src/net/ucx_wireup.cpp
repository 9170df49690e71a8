// Wire-up of the UCX transport: UCX contexts and workers, the listener, the
// connections to every peer and the Hello exchange (net/ucx_transport.hpp).
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

namespace ucx_detail {

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

}  // namespace ucx_detail

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
  // UCX cannot check a worker address before ucp_ep_create() reads it; an
  // empty one (or one longer than any frame, refused by the caller) is not
  // handed to it.
  if (address.empty()) {
    if (state_->refusal.empty()) state_->refusal = fmt::format("{}: sent an empty worker address", peer_name(from));
    return;
  }
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
}  // namespace amalgam::net
