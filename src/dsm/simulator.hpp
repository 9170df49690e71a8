// A deterministic, seeded simulator that runs the DSM protocol on a ModelCluster
// and checks it after every step.
//
// Each node has a few vCPUs; a step either delivers a random message from the
// network (so messages are reordered freely, also between one pair of nodes)
// or lets a random vCPU access a random page: a permitted access happens at
// once, otherwise the vCPU faults and waits for a wake; a waiting vCPU may
// fault again (a duplicate fault). A write stores a unique value; a read
// compares the whole page with the latest value written. After every step:
//   - per page, one read-write mapping and nothing else, or only read-only ones;
//   - every node's protocol state matches its mapping;
//   - every page changed in the step: each mapped copy equals the latest value;
//   - a page ever touched has a copy somewhere (mapped, or in transit);
//   - bytes on the wire equal the latest value (checked on delivery);
//   - the engine was used correctly (ModelCluster::violations);
//   - no protocol error (checked after the checks above, so that a step that
//     both rejects a message and corrupts memory counts as a corruption);
//   - if the network is empty, no vCPU is still waiting (deadlock).
// When the events are used up the network is drained without new accesses
// (transport faults, below, are still injected); then every vCPU must have
// been granted its access, every home's directory must match the mappings,
// and the counters must balance (pages, bytes and messages sent = received,
// invalidations sent = received).
//
// Transport faults. Reordering needs no injection: any message may be
// delivered next, also before one sent earlier between the same two nodes
// (SimResult::reordered counts those deliveries). Drops and duplicates are
// injected on request (SimConfig::drop, duplicate): a message taken off the
// network for delivery is lost instead, or is delivered and a copy put back,
// to be delivered again at a random later point. The protocol assumes a
// reliable transport, so it cannot mask these; what it must not do is turn
// them into corruption. A run with faults must end
//   - Passed: the faults changed nothing (a copy that was itself lost);
//   - ProtocolError: a node rejected a message, a detection (a copy names a
//     request that is over, or repeats a reply or a Request);
//   - Stuck: a lost message leaves its transaction waiting for ever, as
//     nothing is ever sent again; this is the only way a drop can show (a
//     vCPU waiting while the network is empty, or a request or a home still
//     busy at rest), since the protocol has no timeout;
// and never Incoherent or EngineMisuse. A run ends at its first detection,
// so it covers the faults injected up to that point. Two checks change once
// faults are injected: a page whose bytes were lost in the network is not
// reported as lost (its transaction can never complete: the run ends Stuck),
// and after a duplicate the bytes on the wire are no longer checked on
// delivery (a stale copy is expected there; mapping it would be the
// corruption, which the mapped-bytes check catches). The accounting at rest
// allows for the messages dropped and duplicated.
//
// A known exception, rare in sweeps: a duplicate Invalidate that reaches a
// node after it has taken a new Shared copy is obeyed, since nothing in it
// tells it apart from a current one, and the directory still counts the copy.
// When the home then lets that node upgrade (a Grant that keeps its copy),
// every other copy is dropped too, and no copy of the page is left
// (Incoherent) before the stale Ack and the Grant are rejected. One way to
// tell such a duplicate apart: a per-page transaction number in Invalidate
// and Forward, checked against the one that gave the holder its copy.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "dsm/protocol.hpp"

namespace amalgam::dsm {

struct SimConfig {
  uint64_t seed = 1;
  uint32_t nodes = 4;
  uint32_t pages = 4;
  uint64_t events = 10'000;  // protocol events: faults and deliveries
  Mutation mutation = Mutation::None;
  uint32_t prefetch = 0;  // Options::prefetch of every node
  uint32_t claim = 0;     // Options::claim of every node
  bool preallocate = false;  // Options::preallocate of every node
  // Probabilities in [0, 1] (resolved to parts per million) that a message
  // taken for delivery is lost, or is delivered and also duplicated.
  double drop = 0;
  double duplicate = 0;
  bool faults() const { return drop > 0 || duplicate > 0; }
};

struct SimResult {
  enum class Outcome : uint8_t { Passed, Incoherent, Stuck, ProtocolError, EngineMisuse };
  Outcome outcome = Outcome::Passed;
  std::string detail;
  uint64_t events = 0;
  uint64_t steps = 0;
  uint64_t reads = 0;   // completed accesses
  uint64_t writes = 0;
  uint64_t dropped = 0;     // injected faults
  uint64_t duplicated = 0;
  uint64_t reordered = 0;   // deliveries that overtook an earlier message between the same two nodes
  std::array<uint64_t, kLastMessageType + 1> dropped_by_type{};  // by MessageType
  std::array<uint64_t, kLastMessageType + 1> duplicated_by_type{};
  Counters totals;
  uint64_t faults() const { return dropped + duplicated; }
  bool passed() const { return outcome == Outcome::Passed; }
};

SimResult simulate(const SimConfig& config);
std::string replay_command(const SimConfig& config);
const char* to_string(SimResult::Outcome outcome);
const char* to_string(Mutation mutation);

}  // namespace amalgam::dsm
