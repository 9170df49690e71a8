#include "net/messages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "common/copy_bytes.hpp"

namespace amalgam::net {

namespace {

// Each message's fields are listed once, in fields() below, and walked by an
// Encoder (const message, writes) or a Decoder (reads into the message). Both
// apply the same checks, so encode() refuses exactly what decode() rejects.

class Encoder {
 public:
  Encoder(std::vector<uint8_t>& out, NodeId sender, const char* what) : w_(out), sender_(sender), what_(what) {}
  NodeId sender() const { return sender_; }

  template <class T>
  void num(const T& v) {
    if constexpr (std::is_enum_v<T>) {
      num(static_cast<std::underlying_type_t<T>>(v));
    } else {
      for (size_t i = 0; i < sizeof(T); ++i) w_.u8(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
    }
  }
  void flag(const bool& v, const char*) { w_.u8(v ? 1 : 0); }
  // u16 length, then the bytes (std::string or std::vector<std::byte>).
  template <class Bytes>
  void blob(const Bytes& v, size_t max, const char* name) {
    require(v.size() <= max, "{} of {} bytes is over the maximum {}", name, v.size(), max);
    num(static_cast<uint16_t>(v.size()));
    w_.bytes({reinterpret_cast<const uint8_t*>(v.data()), v.size()});
  }
  template <class... Args>
  void require(bool ok, fmt::format_string<Args...> f, Args&&... args) {
    if (!ok) {
      throw std::invalid_argument(fmt::format("{}: {}", what_, fmt::format(f, std::forward<Args>(args)...)));
    }
  }

 private:
  Writer w_;
  NodeId sender_;
  const char* what_;
};

class Decoder {
 public:
  Decoder(std::span<const uint8_t> payload, NodeId sender, const char* what) : r_(payload, sender, what) {}
  NodeId sender() const { return r_.peer(); }

  template <class T>
  void num(T& v) {
    if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> raw;
      num(raw);
      v = static_cast<T>(raw);  // fixed underlying type: any value is representable; checked by the caller
    } else {
      uint64_t raw = 0;
      auto b = r_.bytes(sizeof(T));
      for (size_t i = 0; i < sizeof(T); ++i) raw |= uint64_t{b[i]} << (8 * i);
      v = static_cast<T>(raw);
    }
  }
  void flag(bool& v, const char* name) {
    uint8_t raw = r_.u8();
    require(raw <= 1, "{} = {} is not 0 or 1", name, raw);
    v = raw == 1;
  }
  template <class Bytes>
  void blob(Bytes& v, size_t max, const char* name) {
    uint16_t size = r_.u16();
    require(size <= max, "{} of {} bytes is over the maximum {}", name, size, max);
    auto b = r_.bytes(size);
    v.resize(size);
    if (size) copy_bytes(v.data(), b.data(), size);
  }
  template <class... Args>
  void require(bool ok, fmt::format_string<Args...> f, Args&&... args) {
    if (!ok) r_.fail(fmt::format(f, std::forward<Args>(args)...));
  }
  void finish() const { r_.finish(); }

 private:
  Reader r_;
};

template <class A, class M>
void dsm_fields(A& a, M& m) requires std::is_same_v<std::remove_const_t<M>, dsm::Message> {
  a.num(m.type);
  a.num(m.page);
  a.num(m.request);
  a.num(m.sender);
  a.num(m.destination);
  a.num(m.requester);
  a.num(m.access);
  a.num(m.source);
  a.num(m.peers);
  a.num(m.supplier);
  a.blob(m.payload, dsm::kPageSize, "payload");
  a.require(static_cast<uint8_t>(m.type) <= dsm::kLastMessageType, "DSM message type {} unknown",
            static_cast<unsigned>(m.type));
  a.require(static_cast<uint8_t>(m.access) <= static_cast<uint8_t>(dsm::Access::Write), "access {} invalid",
            static_cast<unsigned>(m.access));
  a.require(static_cast<uint8_t>(m.source) <= dsm::kLastDataSource, "data source {} invalid",
            static_cast<unsigned>(m.source));
  a.require(m.payload.empty() || m.payload.size() == dsm::kPageSize, "payload of {} bytes (0 or {} allowed)",
            m.payload.size(), dsm::kPageSize);
  a.require(m.sender == a.sender(), "claims to be from node {}", m.sender);
}

template <class A, class M>
void fields(A& a, M& dsm_message) requires std::is_same_v<std::remove_const_t<M>, DsmMessage> {
  dsm_fields(a, dsm_message.message);
}

bool valid_delivery_mode(irq::DeliveryMode mode) {
  switch (mode) {
    case irq::DeliveryMode::Fixed:
    case irq::DeliveryMode::LowestPriority:
    case irq::DeliveryMode::Smi:
    case irq::DeliveryMode::Nmi:
    case irq::DeliveryMode::Init:
    case irq::DeliveryMode::StartUp:
    case irq::DeliveryMode::ExtInt: return true;
  }
  return false;
}

template <class A, class M>
void fields(A& a, M& interrupt) requires std::is_same_v<std::remove_const_t<M>, InterruptMessage> {
  auto& m = interrupt.message;
  a.num(m.mode);
  a.num(m.vector);
  a.flag(m.logical_destination, "logical destination");
  a.num(m.destination);
  a.num(m.shorthand);
  a.flag(m.level_triggered, "level triggered");
  a.flag(m.assert_level, "assert");
  a.num(m.source_apic_id);
  a.require(valid_delivery_mode(m.mode), "delivery mode {} invalid", static_cast<unsigned>(m.mode));
  a.require(static_cast<uint8_t>(m.shorthand) <= static_cast<uint8_t>(irq::Shorthand::AllExcludingSelf),
            "destination shorthand {} invalid", static_cast<unsigned>(m.shorthand));
}

template <class A, class M>
void fields(A& a, M& m) requires std::is_same_v<std::remove_const_t<M>, IoRequest> {
  a.num(m.id);
  a.num(m.vcpu);
  a.num(m.space);
  a.flag(m.is_write, "is_write");
  a.num(m.address);
  a.num(m.size);
  a.num(m.data);
  a.require(m.space <= IoRequest::Mmio, "address space {} is neither port (0) nor MMIO (1)", m.space);
  a.require(m.size == 1 || m.size == 2 || m.size == 4 || m.size == 8, "access size {} is not 1, 2, 4 or 8",
            m.size);
}

template <class A, class M>
void fields(A& a, M& m) requires std::is_same_v<std::remove_const_t<M>, IoReply> {
  a.num(m.id);
  a.num(m.data);
}

template <class A, class M>
void fields(A& a, M& m) requires std::is_same_v<std::remove_const_t<M>, Hello> {
  a.num(m.node);
  a.num(m.node_count);
  a.num(m.build_id);
  a.require(m.node_count >= 1 && m.node_count <= dsm::kMaxNodes, "node count {} not in 1 to {}", m.node_count,
            dsm::kMaxNodes);
  a.require(m.node < m.node_count, "node {} of {} nodes", m.node, m.node_count);
  a.require(m.node == a.sender(), "claims to be node {}", m.node);
}

template <class A, class M>
void fields(A& a, M& m) requires std::is_same_v<std::remove_const_t<M>, Heartbeat> {
  a.num(m.seq);
}

template <class A, class M>
void fields(A& a, M& m) requires std::is_same_v<std::remove_const_t<M>, Stop> {
  a.num(m.status);
  a.blob(m.reason, kMaxStopReason, "reason");
}

template <class A, class M>
void fields(A&, M&) requires std::is_same_v<std::remove_const_t<M>, Ready> ||
                             std::is_same_v<std::remove_const_t<M>, Start> {}

template <class A, class M>
void fields(A& a, M& m) requires std::is_same_v<std::remove_const_t<M>, StatsReport> {
  a.num(m.node);
  uint16_t count = kStatCount;
  a.num(count);
  a.require(count == kStatCount, "{} counters (this build has {})", count, kStatCount);
  for (auto& c : m.counters) a.num(c);
  a.require(m.node == a.sender(), "claims to be node {}", m.node);
}

constexpr size_t kTypes = std::variant_size_v<Message>;
static_assert(kTypes == kLastMessageType - kFirstMessageType + 1, "one variant alternative per MessageType");

// Variant index i is MessageType kFirstMessageType + i.
MessageType type_at(size_t index) { return static_cast<MessageType>(kFirstMessageType + index); }

template <size_t I>
Message decode_payload(std::span<const uint8_t> payload, NodeId sender) {
  std::variant_alternative_t<I, Message> m{};
  Decoder d(payload, sender, to_string(type_at(I)));
  fields(d, m);
  d.finish();
  return m;
}

using PayloadDecoder = Message (*)(std::span<const uint8_t>, NodeId);

template <size_t... I>
constexpr std::array<PayloadDecoder, kTypes> decoders(std::index_sequence<I...>) {
  return {&decode_payload<I>...};
}

std::string hex_prefix(std::span<const uint8_t> bytes) {
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 24); ++i) s += fmt::format("{:02x}", bytes[i]);
  return s;
}

}  // namespace

bool operator==(const DsmMessage& x, const DsmMessage& y) {
  auto tie = [](const dsm::Message& m) {
    return std::tie(m.type, m.page, m.request, m.sender, m.destination, m.requester, m.access, m.source, m.peers,
                    m.supplier, m.payload);
  };
  return tie(x.message) == tie(y.message);
}

bool operator==(const InterruptMessage& x, const InterruptMessage& y) {
  auto tie = [](const irq::InterruptMessage& m) {
    return std::tie(m.mode, m.vector, m.logical_destination, m.destination, m.shorthand, m.level_triggered,
                    m.assert_level, m.source_apic_id);
  };
  return tie(x.message) == tie(y.message);
}

const char* to_string(Stat stat) {
  static constexpr std::array<const char*, kStatCount> names = {
      "read_faults",     "write_faults",          "zero_fills",        "pages_sent",
      "pages_received",  "invalidations_sent",    "invalidations_received", "dsm_messages_sent",
      "dsm_messages_received", "bytes_sent",      "bytes_received",    "vm_exits",
      "io_exits",        "mmio_exits",            "interrupts_sent",   "interrupts_received",
  };
  auto i = static_cast<size_t>(stat);
  return i < kStatCount ? names[i] : "unknown";
}

MessageType type_of(const Message& message) { return type_at(message.index()); }

std::vector<uint8_t> encode(const Message& message, NodeId sender) {
  MessageType type = type_of(message);
  auto frame = start_frame(type, sender, std::holds_alternative<DsmMessage>(message) ? 64 + dsm::kPageSize : 64);
  std::visit(
      [&](const auto& m) {
        Encoder e(frame, sender, to_string(type));
        fields(e, m);
      },
      message);
  finish_frame(frame);
  return frame;
}

std::vector<uint8_t> encode(const dsm::Message& message, NodeId sender) {
  static_assert(std::is_same_v<std::variant_alternative_t<0, Message>, DsmMessage>);
  const MessageType type = type_at(0);
  auto frame = start_frame(type, sender, 64 + dsm::kPageSize);
  Encoder e(frame, sender, to_string(type));
  dsm_fields(e, message);
  finish_frame(frame);
  return frame;
}

Message decode(std::span<const uint8_t> frame, NodeId expected_sender) {
  static constexpr auto table = decoders(std::make_index_sequence<kTypes>{});
  FrameView f = decode_frame(frame, expected_sender);
  return table[static_cast<size_t>(f.type) - kFirstMessageType](f.payload, expected_sender);
}

void check_decode(std::span<const uint8_t> frame, NodeId sender) {
  Message m;
  try {
    m = decode(frame, sender);
  } catch (const DecodeError& e) {
    std::string prefix = fmt::format("node {}: ", sender);
    if (e.peer() != sender || std::string_view(e.what()).substr(0, prefix.size()) != prefix) {
      throw std::logic_error(fmt::format("rejection of {} does not name node {}: {}", hex_prefix(frame), sender,
                                         e.what()));
    }
    return;
  }
  std::vector<uint8_t> again;
  try {
    again = encode(m, sender);
  } catch (const std::invalid_argument& e) {
    throw std::logic_error(fmt::format("{} decodes to a message encode() refuses: {}", hex_prefix(frame), e.what()));
  }
  if (!std::equal(again.begin(), again.end(), frame.begin(), frame.end())) {
    throw std::logic_error(fmt::format("{} decodes to a {} that encodes to {}", hex_prefix(frame),
                                       to_string(type_of(m)), hex_prefix(again)));
  }
}

}  // namespace amalgam::net
