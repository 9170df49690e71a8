// Frames between node processes over UCX (UCP tag messages): shared memory
// between processes of one host, TCP between hosts.
//
// Wire-up. Every node is given the same list of addresses, "host:port" per
// node. Node i listens on its own address (a ucp_listener) and connects to
// every lower-numbered node's address; the connection request carries i as
// the UCP client id, so the listening node knows which peer it is. Over each
// new connection the connecting node sends a Hello (messages.hpp) and the
// listener answers with its own; both check the node count and the build id.
// The constructor returns once all node_count - 1 peers have answered, and
// throws TransportError naming the first missing peer when connect_timeout
// passes ("node 1 (127.0.0.1:40001): connect timed out after 5 s"). Refused
// connections (a peer that is not listening yet) are retried until then, so
// node processes may start in any order.
//
// For nodes on one host the parent picks free loopback ports
// (local_addresses.hpp) and hands every node the same list; the connection
// setup goes over loopback TCP (UCX's sockaddr connection manager) whatever
// the kind, and the data then moves over the kind's transports:
//   SharedMemory  UCX_TLS=posix,sysv,cma,self: one host only. A second UCP
//                 worker, in a context of these transports alone, holds the
//                 data endpoints (made from worker addresses exchanged after
//                 the Hellos), so that polling it costs no system call; the
//                 connections' worker (tcp, an epoll_wait per progress) is
//                 then progressed once a millisecond, or when it signals:
//                 it carries only the news of a peer that is gone.
//   Tcp           UCX_TLS=tcp,self, one worker for everything
// For Tcp, UCX would otherwise use every interface it finds (eth0 included)
// even when the peers are on loopback; so unless net_devices says otherwise,
// UCX_NET_DEVICES is set to "lo" when every address is a loopback address.
// UCX_* environment variables still apply to everything else; TLS and
// NET_DEVICES set here win over the environment.
//
// Frames on the wire are UCP tag messages whose tag carries a kind (data,
// hello) and the sender's node id; the sender the transport reports is that
// id, checked to be a peer.
//
// Threads: send() and wakeup() from any thread; poll() from one thread at a
// time, spin() from others next to it. One mutex guards the UCP worker
// (UCS_THREAD_MODE_SINGLE); poll() does not hold it while it sleeps or while
// its handler runs, and a spin() never waits for it. While a thread spins,
// poll() in another does not busy-poll next to it: it waits for the spin to
// end, so that the two do not take turns at the worker's mutex and at the
// CPUs (it does not arm the worker either, which would make the peer signal
// it on the next frame).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "net/transport.hpp"

namespace amalgam::net {

class UcxTransport : public Transport {
 public:
  enum class Kind { SharedMemory, Tcp };

  struct Options {
    NodeId self = 0;
    uint32_t nodes = 1;
    Kind kind = Kind::SharedMemory;
    std::vector<std::string> addresses;  // "host:port" of every node; node i listens on addresses[i]
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds close_timeout{2'000};  // flushing the endpoints in close()
    // UCX_NET_DEVICES for Tcp; empty: "lo" if every address is loopback, else UCX's default (all).
    std::string net_devices;
    // poll() keeps progressing this long before it sleeps on the worker's
    // event fd: lower latency for a busier CPU.
    std::chrono::microseconds busy_poll{0};
    uint64_t build_id = 0;  // every node must have the same
  };

  // Listens, connects and waits for every peer (see above). Throws
  // TransportError or std::invalid_argument (bad options, an address that
  // does not parse).
  explicit UcxTransport(Options options);
  ~UcxTransport() override;
  UcxTransport(const UcxTransport&) = delete;
  UcxTransport& operator=(const UcxTransport&) = delete;

  NodeId self() const override { return options_.self; }
  uint32_t node_count() const override { return options_.nodes; }
  void send(NodeId to, std::vector<uint8_t> frame) override;
  bool poll(std::chrono::milliseconds timeout, const FrameHandler& on_frame) override;
  bool spin(std::chrono::microseconds budget, const FrameHandler& on_frame,
            const std::function<bool()>& done) override;
  void wakeup() override;
  void close() override;

  // "posix,sysv,cma,self; connections tcp,self" or "tcp,self": what this
  // transport asked UCX for.
  const std::string& transports() const { return tls_; }
  // The UCX_NET_DEVICES value applied ("" if UCX's default).
  const std::string& net_devices() const { return net_devices_; }
  // UCX's description of the endpoint to `peer` (ucp_ep_print_info): the
  // transport and device of each lane. Empty if there is none.
  std::string endpoint_info(NodeId peer);

 private:
  struct State;  // UCX objects, peers, receives in progress
  struct Peer;
  class Endpoint;
  enum class Tag : uint32_t { Data = 0, Hello = 1, Address = 2 };

  void init_ucx();
  void listen();
  // Adds the error handler to ucp_ep_params_t `params` and creates peer.ep
  // (closing an earlier one); returns the ucs_status_t.
  int create_endpoint(Peer& peer, Endpoint& slot, void* params);
  void forget(Peer& peer);  // a new connection: wire-up starts again
  void say_hello(Peer& peer);
  void on_address(NodeId from, std::span<const uint8_t> address);
  void on_connection_request(void* conn_request);  // from ucp_worker_progress()
  void connect(Peer& peer);
  void wire_up();
  void progress();  // under mutex_: progress the worker, take in arrivals, finish requests
  enum class Took { Closed, Nothing, Frames };
  // One progress() and the handler for what it completed. wait: for the
  // mutex; otherwise Nothing if another thread holds it.
  Took take_frames(bool wait, const FrameHandler& on_frame);
  void take_arrivals();
  void finish_requests();
  void on_hello(NodeId from, std::span<const uint8_t> bytes);
  void send_tagged(Peer& peer, Tag tag, std::vector<uint8_t> bytes);
  bool sleep(std::chrono::milliseconds timeout);  // without mutex_; false: woken by wakeup()/close()
  // Under mutex_: arms every worker for sleep(); false if one has events to
  // progress first (noted for progress() if it is the connections' worker).
  bool arm_workers();
  void listen_to_worker(bool on);  // whether sleep() wakes on the workers' event fds
  void leave_spin();      // the last spinner out listens again and ends poll()'s waits
  void end_spin_waits();  // wakes a poll() waiting for spins to end
  void close_endpoints();
  void discard_unexpected(std::chrono::steady_clock::time_point deadline);
  std::string peer_name(NodeId node) const;
  [[noreturn]] void fail(const char* call, int status) const;

  Options options_;
  std::string tls_;
  std::string net_devices_;
  std::mutex mutex_;
  std::unique_ptr<State> state_;
  UniqueFd epoll_;  // the workers' event fds and wake_
  UniqueFd wake_;   // eventfd: wakeup() and close()
  std::atomic<bool> closed_{false};
  std::atomic<int> spinners_{0};  // threads in spin()
  // Bumped when the last spinner leaves, and by close(): ends poll()'s wait.
  std::atomic<uint32_t> spin_ends_{0};
  std::mutex listen_mutex_;       // orders listen_to_worker() calls
  std::vector<int> worker_fds_;   // the UCP workers' event fds (in epoll_)
};

}  // namespace amalgam::net
