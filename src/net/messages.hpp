// Typed messages between nodes and their codecs.
//
// encode() writes one frame (frame.hpp) per message; decode() reads one back
// and validates every field: enum values in range, booleans 0 or 1, sizes of
// the one legal length, no trailing bytes. A frame that decodes therefore
// re-encodes to exactly the same bytes. Anything else is a DecodeError whose
// message names the peer ("node 2: Interrupt: delivery mode 3 invalid").
//
// Payload layouts (little-endian, in this order):
//   Dsm          type u8, page u64, request u64, sender u32, destination u32,
//                requester u32, access u8, source u8, peers u64, supplier u32,
//                payload length u16 (0 or 4096), payload
//   Interrupt    mode u8, vector u8, logical u8, destination u32,
//                shorthand u8, level u8, assert u8, source APIC ID u32
//   IoRequest    id u64, vcpu u32, space u8, is_write u8, address u64,
//                size u8, data u64
//   IoReply      id u64, data u64
//   Hello        node u32, node count u32, build id u64
//   Heartbeat    seq u64
//   Stop         status i32 (as u32), reason length u16, reason bytes
//   Ready/Start  nothing
//   StatsReport  node u32, counter count u16 (= kStatCount), counters u64 each
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "dsm/protocol.hpp"
#include "irq/message.hpp"
#include "net/frame.hpp"

namespace amalgam::net {

// One DSM protocol message. Its `sender` must be the frame's sender.
struct DsmMessage {
  dsm::Message message;
  friend bool operator==(const DsmMessage& a, const DsmMessage& b);
};

struct InterruptMessage {
  irq::InterruptMessage message;
  friend bool operator==(const InterruptMessage& a, const InterruptMessage& b);
};

// A vCPU's port or MMIO access forwarded to the node that owns the device.
struct IoRequest {
  enum Space : uint8_t { Port = 0, Mmio = 1 };
  uint64_t id = 0;
  uint32_t vcpu = 0;
  uint8_t space = Port;
  bool is_write = false;
  uint64_t address = 0;
  uint8_t size = 1;  // 1, 2, 4 or 8
  uint64_t data = 0;
  bool operator==(const IoRequest&) const = default;
};

struct IoReply {
  uint64_t id = 0;
  uint64_t data = 0;
  bool operator==(const IoReply&) const = default;
};

// The first message on a connection. `node` must be the frame's sender.
struct Hello {
  uint32_t node = 0;
  uint32_t node_count = 0;  // 1 to dsm::kMaxNodes, and more than `node`
  uint64_t build_id = 0;
  bool operator==(const Hello&) const = default;
};

struct Heartbeat {
  uint64_t seq = 0;
  bool operator==(const Heartbeat&) const = default;
};

inline constexpr size_t kMaxStopReason = 512;

struct Stop {
  int32_t status = 0;
  std::string reason;  // at most kMaxStopReason bytes
  bool operator==(const Stop&) const = default;
};

struct Ready {
  bool operator==(const Ready&) const = default;
};

struct Start {
  bool operator==(const Start&) const = default;
};

// Counters a node reports; append new ones before Count (and bump
// kProtocolVersion: the count on the wire must match).
enum class Stat : uint8_t {
  ReadFaults,
  WriteFaults,
  ZeroFills,
  PagesSent,
  PagesReceived,
  InvalidationsSent,
  InvalidationsReceived,
  DsmMessagesSent,
  DsmMessagesReceived,
  BytesSent,
  BytesReceived,
  VmExits,
  IoExits,
  MmioExits,
  InterruptsSent,
  InterruptsReceived,
  Count,
};
inline constexpr size_t kStatCount = static_cast<size_t>(Stat::Count);
const char* to_string(Stat stat);

// `node` must be the frame's sender.
struct StatsReport {
  uint32_t node = 0;
  std::array<uint64_t, kStatCount> counters{};
  uint64_t& operator[](Stat s) { return counters[static_cast<size_t>(s)]; }
  uint64_t operator[](Stat s) const { return counters[static_cast<size_t>(s)]; }
  bool operator==(const StatsReport&) const = default;
};

using Message = std::variant<DsmMessage, InterruptMessage, IoRequest, IoReply, Hello, Heartbeat, Stop, Ready,
                             Start, StatsReport>;

MessageType type_of(const Message& message);

// One frame. Throws std::invalid_argument for a message this node must not
// send (a DSM payload that is not a page, a reason over kMaxStopReason, a
// field out of range): encode() and decode() accept the same messages.
std::vector<uint8_t> encode(const Message& message, NodeId sender);
// The same frame as encode(DsmMessage{message}, sender), without first
// copying the message (and its page of payload) into a DsmMessage: the DSM
// engine's send path.
std::vector<uint8_t> encode(const dsm::Message& message, NodeId sender);

// One frame received from `expected_sender`. Throws DecodeError naming it.
Message decode(std::span<const uint8_t> frame, NodeId expected_sender);

// The fuzzing property, shared by the fuzzer and the corpus test: decoding
// `frame` either throws DecodeError naming `sender`, or yields a message that
// encodes back to exactly `frame`. Throws std::logic_error when it does not.
void check_decode(std::span<const uint8_t> frame, NodeId sender);

}  // namespace amalgam::net
