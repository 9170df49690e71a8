// One message of every type, with non-default values in every field, as node
// `sender` would send them.
#pragma once

#include <cstddef>
#include <vector>

#include "net/messages.hpp"

namespace amalgam::net::test {

inline dsm::Message dsm_data(NodeId sender) {
  dsm::Message m;
  m.type = dsm::MessageType::Data;
  m.page = 0x1234'5678'9ABCULL;
  m.request = 77;
  m.sender = sender;
  m.destination = 3;
  m.requester = 3;
  m.access = dsm::Access::Write;
  m.source = dsm::DataSource::Peer;
  m.peers = 0x8000'0000'0000'0005ULL;
  m.supplier = sender;
  m.payload.resize(dsm::kPageSize);
  for (size_t i = 0; i < m.payload.size(); ++i) m.payload[i] = static_cast<std::byte>(i * 7 + 1);
  return m;
}

inline std::vector<Message> sample_messages(NodeId sender) {
  dsm::Message request;
  request.type = dsm::MessageType::Request;
  request.page = 42;
  request.request = 1;
  request.sender = sender;
  request.requester = sender;
  request.access = dsm::Access::Write;

  irq::InterruptMessage ipi;
  ipi.mode = irq::DeliveryMode::StartUp;
  ipi.vector = 0x9A;
  ipi.logical_destination = true;
  ipi.destination = 0x0F;
  ipi.shorthand = irq::Shorthand::AllExcludingSelf;
  ipi.level_triggered = true;
  ipi.assert_level = false;
  ipi.source_apic_id = 5;

  StatsReport stats;
  stats.node = sender;
  for (size_t i = 0; i < kStatCount; ++i) stats.counters[i] = (uint64_t{1} << (i * 4)) + i;

  return {
      DsmMessage{request},
      DsmMessage{dsm_data(sender)},
      InterruptMessage{ipi},
      IoRequest{0xFEED'0000'0001ULL, 3, IoRequest::Mmio, true, 0xFEC0'0010ULL, 4, 0xDEAD'BEEF},
      IoReply{0xFEED'0000'0001ULL, 0x0123'4567'89AB'CDEFULL},
      Hello{sender, 4, 0xB111'D000'0000'0042ULL},
      Heartbeat{~0ULL},
      Stop{-3, std::string("triple fault on vCPU 2 at RIP 0xfffff000") + std::string(1, '\0') + "x"},
      Ready{},
      Start{},
      stats,
  };
}

}  // namespace amalgam::net::test
