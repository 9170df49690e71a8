// The wire frame every message between nodes travels in.
//
// A frame is a fixed 16-byte header followed by the payload, every field
// little-endian and written byte by byte (no struct is copied onto the wire):
//
//   offset  size  field
//        0     4  magic 'AMLG' (the bytes 41 4D 4C 47)
//        4     2  protocol version (kProtocolVersion)
//        6     2  message type (MessageType)
//        8     4  sender node
//       12     4  payload length
//       16     n  payload
//
// decode_frame() trusts nothing: a frame from a peer is checked against the
// node the transport says it came from, and every rejection is a DecodeError
// whose message starts with "node <peer>: ".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/copy_bytes.hpp"

namespace amalgam::net {

using NodeId = uint32_t;

inline constexpr uint32_t kMagic = 0x474C'4D41;  // "AMLG" read as a little-endian u32
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kMaxPayload = 4096 + 64;  // a page and its DSM envelope
inline constexpr size_t kMaxFrame = kHeaderSize + kMaxPayload;

enum class MessageType : uint16_t {
  Dsm = 1,
  Interrupt = 2,
  IoRequest = 3,
  IoReply = 4,
  Hello = 5,
  Heartbeat = 6,
  Stop = 7,
  Ready = 8,
  Start = 9,
  StatsReport = 10,
};
inline constexpr uint16_t kFirstMessageType = 1;
inline constexpr uint16_t kLastMessageType = 10;

const char* to_string(MessageType type);

// A frame or message from `peer` that does not fit the protocol.
class DecodeError : public std::runtime_error {
 public:
  DecodeError(NodeId peer, const std::string& what);
  NodeId peer() const noexcept { return peer_; }

 private:
  NodeId peer_;
};

struct FrameView {
  MessageType type;
  NodeId sender;
  std::span<const uint8_t> payload;  // points into the decoded bytes
};

// Checks the header and the length of `bytes`, one whole frame received from
// `expected_sender`. Throws DecodeError naming expected_sender.
FrameView decode_frame(std::span<const uint8_t> bytes, NodeId expected_sender);

// Appends little-endian fields to a byte vector.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void bytes(std::span<const uint8_t> b) {
    size_t at = out_.size();
    out_.resize(at + b.size());
    copy_bytes(out_.data() + at, b.data(), b.size());  // a page's payload: see copy_bytes.hpp
  }

 private:
  void put(uint64_t v, int size) {
    for (int i = 0; i < size; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t>& out_;
};

// Reads little-endian fields from a payload received from `peer`; running past
// the end is a DecodeError that names the peer and what was being read.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, NodeId peer, std::string_view what)
      : bytes_(bytes), peer_(peer), what_(what) {}
  uint8_t u8() { return static_cast<uint8_t>(get(1)); }
  uint16_t u16() { return static_cast<uint16_t>(get(2)); }
  uint32_t u32() { return static_cast<uint32_t>(get(4)); }
  uint64_t u64() { return get(8); }
  std::span<const uint8_t> bytes(size_t size);
  // Throws unless every byte has been read.
  void finish() const;
  [[noreturn]] void fail(const std::string& what) const;
  NodeId peer() const { return peer_; }

 private:
  uint64_t get(size_t size);
  std::span<const uint8_t> bytes_;
  size_t offset_ = 0;
  NodeId peer_;
  std::string_view what_;
};

// Header followed by `payload_size` bytes the caller appends with a Writer on
// the returned vector; finish_frame() fills in the length.
std::vector<uint8_t> start_frame(MessageType type, NodeId sender, size_t reserve = 0);
void finish_frame(std::vector<uint8_t>& frame);

}  // namespace amalgam::net
