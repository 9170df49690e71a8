// What a machine that is one node of several needs from the cluster layer,
// and what it offers back. The machine knows which vCPUs are its own and that
// devices live on node 0; how messages reach other nodes, and how guest
// memory stays coherent, is the cluster layer's business (src/cluster).
#pragma once

#include <cstdint>
#include <string>

#include "irq/message.hpp"
#include "memory/guest_memory.hpp"

namespace amalgam::machine {

// A port or MMIO access from a vCPU, served by node 0's devices.
struct IoAccess {
  uint32_t vcpu = 0;
  bool mmio = false;
  bool is_write = false;
  uint64_t address = 0;
  uint8_t size = 0;  // 1, 2, 4 or 8
  uint64_t data = 0;
};

class NodeServices {
 public:
  virtual ~NodeServices() = default;
  // Called once, before anything touches guest memory: the DSM takes it over.
  virtual void attach_memory(const memory::GuestMemory& memory) = 0;
  // Forwards an access to node 0 and blocks until it answers; returns the
  // value read (0 for writes). Throws when node 0 cannot answer.
  virtual uint64_t forward_io(const IoAccess& access) = 0;
  virtual void send_interrupt(uint32_t node, const irq::InterruptMessage& message) = 0;
  // Tells every other node that the machine stops (node 0: with the
  // machine's status; others: with their failure for node 0 to report).
  virtual void announce_stop(int status, const std::string& reason) = 0;
  // The machine is stopping (for whatever reason): memory may stop being
  // coherent now, so that no vCPU waits forever on a page of a node that is
  // gone. Called once, from the thread that runs the machine, which tears
  // it down (docs/teardown.md).
  virtual void machine_stopping() = 0;
  // Before the vCPUs start: every node has its part of the machine ready.
  // Returns false when the machine stopped while waiting.
  virtual bool wait_for_start() = 0;
  // One line of this node's counters (DSM, forwarding), for --stats.
  virtual std::string stats_line() const = 0;
};

}  // namespace amalgam::machine
