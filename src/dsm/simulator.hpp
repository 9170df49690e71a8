// A deterministic, seeded simulator that runs the DSM protocol on a Cluster
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
//   - the engine was used correctly (Cluster::violations) and no protocol error;
//   - if the network is empty, no vCPU is still waiting (deadlock).
// When the events are used up the network is drained without new faults; then
// every vCPU must have been granted its access, every home's directory must
// match the mappings, and the counters must balance (pages, bytes and
// messages sent = received, invalidations sent = received).
#pragma once

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
};

struct SimResult {
  enum class Outcome : uint8_t { Passed, Incoherent, Stuck, ProtocolError, EngineMisuse };
  Outcome outcome = Outcome::Passed;
  std::string detail;
  uint64_t events = 0;
  uint64_t steps = 0;
  uint64_t reads = 0;   // completed accesses
  uint64_t writes = 0;
  Counters totals;
  bool passed() const { return outcome == Outcome::Passed; }
};

SimResult simulate(const SimConfig& config);
std::string replay_command(const SimConfig& config);
const char* to_string(SimResult::Outcome outcome);
const char* to_string(Mutation mutation);

}  // namespace amalgam::dsm
