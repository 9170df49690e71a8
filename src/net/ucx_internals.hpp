// The UCX transport's own types, shared by its two source files
// (ucx_transport.cpp: set-up, frames, sleep and close; ucx_wireup.cpp:
// listening, connecting and the Hello exchange). Not for other layers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <ucp/api/ucp.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/ucx_transport.hpp"

namespace amalgam::net {

namespace ucx_detail {

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

}  // namespace ucx_detail
using namespace ucx_detail;

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

namespace ucx_detail {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  bool loopback = false;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// "host:port" or "[v6]:port", numeric or a name. Throws std::invalid_argument
// naming the node.
Address resolve(const std::string& text, NodeId node);
std::string seconds(std::chrono::milliseconds d);

}  // namespace ucx_detail
using namespace ucx_detail;

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

}  // namespace amalgam::net
