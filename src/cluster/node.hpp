// One node process of a multi-node machine: connects to the other nodes,
// keeps guest memory coherent with them (DSM engine over userfaultfd),
// carries interrupts, forwarded I/O, stops and heartbeats, and runs this
// node's part of the machine.
//
// Threads: the machine's vCPU threads; the DSM engine's fault thread; one
// receive thread here that decodes every frame and dispatches it (DSM
// messages to the engine, interrupts to the machine's router, I/O requests
// to node 0's I/O server thread, replies to the waiting vCPU, stops to the
// machine) and sends heartbeats. A peer silent for kPeerTimeout stops the
// machine with a message naming it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "machine/machine_config.hpp"

namespace amalgam::cluster {

// Every node of a machine must give the same in its Hello: the version of
// what nodes say to each other.
inline constexpr uint64_t kProtocolBuildId = 0x414D'4C47'0001;
inline constexpr std::chrono::milliseconds kHeartbeatInterval{250};
inline constexpr std::chrono::milliseconds kPeerTimeout{2500};
inline constexpr std::chrono::milliseconds kIoTimeout{4000};
// Off: on a host whose cores the vCPUs keep busy, a spinning fault thread
// takes the CPU that the node answering it needs (README, Benchmarks).
inline constexpr std::chrono::microseconds kDefaultFaultSpin{0};

struct NodeOptions {
  std::vector<std::string> addresses;  // "host:port" of every node, in node order
  std::string transport = "shm";       // "shm" or "tcp"
  // The receive thread keeps polling the transport this long after its last
  // frame before it sleeps (UcxTransport::Options::busy_poll): a reply that
  // comes within it costs neither the sender's wake-up signal nor a thread
  // wake-up here, at the price of a CPU kept busy that long.
  std::chrono::microseconds busy_poll{0};
  // A DSM fault thread whose fault waits for another node polls the
  // transport itself this long for the answer before it sleeps
  // (DsmEngine::AwaitFunction): the answer then wakes no thread on this
  // node, at the price of the fault thread's CPU while it waits. 0: off.
  std::chrono::microseconds fault_spin{kDefaultFaultSpin};
  // Count DSM faults per page and name the hottest in stats_line() (--stats).
  bool page_heat = false;
};

// "a:1,b:2": throws UsageError naming --addresses unless there is one
// host:port per node.
std::vector<std::string> parse_addresses(const std::string& text, uint32_t nodes);

// Runs this process as node config.node_id until the machine stops. Node 0's
// result carries the machine's status and failure line; the other nodes end
// with status 0 when node 0 stopped them.
machine::MachineResult run_node(machine::MachineConfig config, NodeOptions options, bool stats);

}  // namespace amalgam::cluster
