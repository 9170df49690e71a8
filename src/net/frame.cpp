#include "net/frame.hpp"

#include <fmt/format.h>

namespace amalgam::net {

namespace {

constexpr size_t kLengthOffset = 12;

}  // namespace

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::Dsm: return "Dsm";
    case MessageType::Interrupt: return "Interrupt";
    case MessageType::IoRequest: return "IoRequest";
    case MessageType::IoReply: return "IoReply";
    case MessageType::Hello: return "Hello";
    case MessageType::Heartbeat: return "Heartbeat";
    case MessageType::Stop: return "Stop";
    case MessageType::Ready: return "Ready";
    case MessageType::Start: return "Start";
    case MessageType::StatsReport: return "StatsReport";
  }
  return "unknown";
}

DecodeError::DecodeError(NodeId peer, const std::string& what)
    : std::runtime_error(fmt::format("node {}: {}", peer, what)), peer_(peer) {}

std::span<const uint8_t> Reader::bytes(size_t size) {
  if (size > bytes_.size() - offset_) {
    fail(fmt::format("{} bytes wanted at offset {} of {}", size, offset_, bytes_.size()));
  }
  auto out = bytes_.subspan(offset_, size);
  offset_ += size;
  return out;
}

uint64_t Reader::get(size_t size) {
  uint64_t v = 0;
  auto b = bytes(size);
  for (size_t i = 0; i < size; ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

void Reader::finish() const {
  if (offset_ != bytes_.size()) {
    fail(fmt::format("{} trailing bytes after {}", bytes_.size() - offset_, offset_));
  }
}

void Reader::fail(const std::string& what) const { throw DecodeError(peer_, fmt::format("{}: {}", what_, what)); }

FrameView decode_frame(std::span<const uint8_t> bytes, NodeId expected_sender) {
  if (bytes.size() < kHeaderSize) {
    throw DecodeError(expected_sender, fmt::format("frame of {} bytes is shorter than the {}-byte header",
                                                   bytes.size(), kHeaderSize));
  }
  Reader header(bytes.first(kHeaderSize), expected_sender, "frame header");
  uint32_t magic = header.u32();
  uint16_t version = header.u16();
  uint16_t type = header.u16();
  uint32_t sender = header.u32();
  uint32_t length = header.u32();
  auto fail = [&](const std::string& what) { throw DecodeError(expected_sender, what); };
  if (magic != kMagic) fail(fmt::format("bad magic {:#010x} (want {:#010x} 'AMLG')", magic, kMagic));
  if (version != kProtocolVersion) {
    fail(fmt::format("protocol version {} unsupported (this build speaks {})", version, kProtocolVersion));
  }
  if (type < kFirstMessageType || type > kLastMessageType) fail(fmt::format("message type {} unknown", type));
  if (sender != expected_sender) fail(fmt::format("frame claims to come from node {}", sender));
  if (length > kMaxPayload) fail(fmt::format("payload length {} over the maximum {}", length, kMaxPayload));
  if (length != bytes.size() - kHeaderSize) {
    fail(fmt::format("payload length {} but {} bytes follow the header", length, bytes.size() - kHeaderSize));
  }
  return FrameView{static_cast<MessageType>(type), sender, bytes.subspan(kHeaderSize)};
}

std::vector<uint8_t> start_frame(MessageType type, NodeId sender, size_t reserve) {
  std::vector<uint8_t> frame;
  frame.reserve(kHeaderSize + reserve);
  Writer w(frame);
  w.u32(kMagic);
  w.u16(kProtocolVersion);
  w.u16(static_cast<uint16_t>(type));
  w.u32(sender);
  w.u32(0);  // length: finish_frame()
  return frame;
}

void finish_frame(std::vector<uint8_t>& frame) {
  size_t length = frame.size() - kHeaderSize;
  if (length > kMaxPayload) {
    throw std::length_error(fmt::format("frame payload of {} bytes over the maximum {}", length, kMaxPayload));
  }
  for (size_t i = 0; i < 4; ++i) frame[kLengthOffset + i] = static_cast<uint8_t>(length >> (8 * i));
}

}  // namespace amalgam::net
