// Every message type survives encode/decode; every malformation is rejected
// with the peer named.
#include <gtest/gtest.h>

#include <string>

#include "net/messages.hpp"
#include "sample_messages.hpp"

using namespace amalgam::net;
using amalgam::net::test::dsm_data;
using amalgam::net::test::sample_messages;

namespace {

constexpr NodeId kSender = 2;

// Header field offsets (frame.hpp).
constexpr size_t kVersionAt = 4, kTypeAt = 6, kSenderAt = 8, kLengthAt = 12;

void put_le(std::vector<uint8_t>& bytes, size_t at, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) bytes[at + i] = static_cast<uint8_t>(value >> (8 * i));
}

// decode() throws a DecodeError naming kSender whose message contains `words`.
void expect_rejected(const std::vector<uint8_t>& frame, const std::string& words) {
  try {
    decode(frame, kSender);
    ADD_FAILURE() << "accepted; expected an error with \"" << words << "\"";
  } catch (const DecodeError& e) {
    EXPECT_EQ(e.peer(), kSender);
    std::string what = e.what();
    EXPECT_EQ(what.rfind("node 2: ", 0), 0u) << what;
    EXPECT_NE(what.find(words), std::string::npos) << what;
  }
}

// `frame` with the payload field at `offset` set to `value`.
std::vector<uint8_t> with_field(std::vector<uint8_t> frame, size_t offset, uint64_t value, size_t size = 1) {
  put_le(frame, kHeaderSize + offset, value, size);
  return frame;
}

std::vector<uint8_t> frame_of(MessageType type, std::vector<uint8_t> payload) {
  auto frame = start_frame(type, kSender);
  frame.insert(frame.end(), payload.begin(), payload.end());
  finish_frame(frame);
  return frame;
}

}  // namespace

TEST(NetMessages, EveryTypeRoundTrips) {
  auto messages = sample_messages(kSender);
  ASSERT_EQ(messages.size(), std::variant_size_v<Message> + 1);  // two DSM messages
  for (const Message& m : messages) {
    auto frame = encode(m, kSender);
    SCOPED_TRACE(to_string(type_of(m)));
    Message back = decode(frame, kSender);
    EXPECT_TRUE(back == m);
    EXPECT_EQ(back.index(), m.index());
    EXPECT_EQ(frame.size(), kHeaderSize + decode_frame(frame, kSender).payload.size());
    EXPECT_NO_THROW(check_decode(frame, kSender));
  }
}

TEST(NetMessages, HeaderIsLittleEndianByteByByte) {
  auto frame = encode(Heartbeat{0x0102'0304'0506'0708ULL}, 0x0A0B'0C0D);
  std::vector<uint8_t> want = {'A', 'M', 'L', 'G', 1, 0, 6, 0, 0x0D, 0x0C, 0x0B, 0x0A, 8, 0, 0, 0,
                               8,   7,   6,   5,   4, 3, 2, 1};
  EXPECT_EQ(frame, want);
}

TEST(NetMessages, DsmPagePresentOrAbsent) {
  auto with_page = encode(DsmMessage{dsm_data(kSender)}, kSender);
  EXPECT_LE(with_page.size(), kMaxFrame);
  auto m = std::get<DsmMessage>(decode(with_page, kSender)).message;
  EXPECT_EQ(m.payload.size(), amalgam::dsm::kPageSize);
  EXPECT_EQ(m.payload[4095], static_cast<std::byte>(4095 * 7 + 1));

  auto without = dsm_data(kSender);
  without.payload.clear();
  auto frame = encode(DsmMessage{without}, kSender);
  EXPECT_EQ(frame.size(), with_page.size() - amalgam::dsm::kPageSize);
  EXPECT_TRUE(std::get<DsmMessage>(decode(frame, kSender)).message.payload.empty());
}

TEST(NetMessages, DsmMessageEncodesTheSameWithoutTheWrapper) {
  auto with_page = dsm_data(kSender);
  auto without = with_page;
  without.payload.clear();
  for (const auto& m : {with_page, without}) EXPECT_EQ(encode(m, kSender), encode(DsmMessage{m}, kSender));

  auto torn = with_page;
  torn.payload.resize(100);
  EXPECT_THROW(encode(torn, kSender), std::invalid_argument);
  EXPECT_THROW(encode(DsmMessage{torn}, kSender), std::invalid_argument);
  EXPECT_THROW(encode(with_page, kSender + 1), std::invalid_argument);  // claims another sender
}

TEST(NetMessages, FrameRejections) {
  auto good = encode(Heartbeat{5}, kSender);
  expect_rejected({}, "shorter than the 16-byte header");
  expect_rejected({good.begin(), good.begin() + 15}, "frame of 15 bytes");

  auto bad = good;
  bad[0] = 'X';
  expect_rejected(bad, "bad magic");
  bad = good;
  put_le(bad, kVersionAt, 2, 2);
  expect_rejected(bad, "protocol version 2 unsupported");
  bad = good;
  put_le(bad, kTypeAt, 99, 2);
  expect_rejected(bad, "message type 99 unknown");
  put_le(bad, kTypeAt, 0, 2);
  expect_rejected(bad, "message type 0 unknown");
  bad = good;
  put_le(bad, kSenderAt, 5, 4);
  expect_rejected(bad, "claims to come from node 5");
  bad = good;
  bad.pop_back();
  expect_rejected(bad, "payload length 8 but 7 bytes follow");
  bad = good;
  bad.push_back(0);
  expect_rejected(bad, "payload length 8 but 9 bytes follow");
  bad = good;
  put_le(bad, kLengthAt, kMaxPayload + 1, 4);
  expect_rejected(bad, "over the maximum 4160");
  put_le(bad, kLengthAt, 0xFFFF'FFFF, 4);
  expect_rejected(bad, "payload length 4294967295 over the maximum");
}

TEST(NetMessages, PayloadLengthMustFitTheType) {
  expect_rejected(frame_of(MessageType::Heartbeat, {1, 2, 3}), "Heartbeat: 8 bytes wanted at offset 0 of 3");
  expect_rejected(frame_of(MessageType::Heartbeat, std::vector<uint8_t>(9)), "Heartbeat: 1 trailing bytes");
  expect_rejected(frame_of(MessageType::Ready, {0}), "Ready: 1 trailing bytes");
  expect_rejected(frame_of(MessageType::IoReply, std::vector<uint8_t>(15)), "IoReply: 8 bytes wanted");
}

TEST(NetMessages, DsmFieldChecks) {
  auto frame = encode(DsmMessage{dsm_data(kSender)}, kSender);
  // Payload offsets: type 0, page 1, request 9, sender 17, destination 21,
  // requester 25, access 29, source 30, peers 31, supplier 39, length 43.
  auto at = [&](size_t offset, uint64_t value, size_t size) { return with_field(frame, offset, value, size); };
  expect_rejected(at(0, 7, 1), "Dsm: DSM message type 7 unknown");
  expect_rejected(at(17, 1, 4), "Dsm: claims to be from node 1");
  expect_rejected(at(29, 2, 1), "Dsm: access 2 invalid");
  expect_rejected(at(30, 4, 1), "Dsm: data source 4 invalid");
  expect_rejected(at(43, 4097, 2), "payload of 4097 bytes is over the maximum 4096");
  expect_rejected(at(43, 4095, 2), "Dsm: payload of 4095 bytes (0 or 4096 allowed)");
  expect_rejected(at(43, 0, 2), "Dsm: 4096 trailing bytes");

  auto short_page = dsm_data(kSender);
  short_page.payload.resize(100);
  EXPECT_THROW(encode(DsmMessage{short_page}, kSender), std::invalid_argument);
  EXPECT_THROW(encode(DsmMessage{dsm_data(1)}, kSender), std::invalid_argument);
}

TEST(NetMessages, InterruptFieldChecks) {
  auto frame = encode(std::get<InterruptMessage>(sample_messages(kSender)[2]), kSender);
  // mode 0, vector 1, logical 2, destination 3, shorthand 7, level 8, assert 9, source 10.
  auto at = [&](size_t offset, uint8_t value) { return with_field(frame, offset, value); };
  expect_rejected(at(0, 3), "Interrupt: delivery mode 3 invalid");
  expect_rejected(at(0, 8), "delivery mode 8 invalid");
  expect_rejected(at(2, 2), "Interrupt: logical destination = 2 is not 0 or 1");
  expect_rejected(at(7, 4), "destination shorthand 4 invalid");
  expect_rejected(at(8, 0xFF), "level triggered = 255");
  expect_rejected(at(9, 9), "assert = 9");
  for (uint8_t mode : {0, 1, 2, 4, 5, 6, 7}) EXPECT_NO_THROW(decode(at(0, mode), kSender));
  amalgam::irq::InterruptMessage m;
  m.mode = static_cast<amalgam::irq::DeliveryMode>(3);
  EXPECT_THROW(encode(InterruptMessage{m}, kSender), std::invalid_argument);
}

TEST(NetMessages, IoFieldChecks) {
  auto frame = encode(IoRequest{1, 0, IoRequest::Port, false, 0x3F8, 1, 0}, kSender);
  // id 0, vcpu 8, space 12, is_write 13, address 14, size 22, data 23.
  auto at = [&](size_t offset, uint8_t value) { return with_field(frame, offset, value); };
  expect_rejected(at(12, 2), "IoRequest: address space 2 is neither port (0) nor MMIO (1)");
  expect_rejected(at(13, 2), "is_write = 2 is not 0 or 1");
  for (uint8_t size : {0, 3, 5, 16}) expect_rejected(at(22, size), "access size " + std::to_string(size));
  for (uint8_t size : {1, 2, 4, 8}) EXPECT_NO_THROW(decode(at(22, size), kSender));
  EXPECT_THROW(encode(IoRequest{1, 0, IoRequest::Port, false, 0, 3, 0}, kSender), std::invalid_argument);
}

TEST(NetMessages, ControlFieldChecks) {
  auto hello = [](uint32_t node, uint32_t count) {
    std::vector<uint8_t> payload(16);
    put_le(payload, 0, node, 4);
    put_le(payload, 4, count, 4);
    return frame_of(MessageType::Hello, payload);
  };
  EXPECT_NO_THROW(decode(hello(kSender, 3), kSender));
  expect_rejected(hello(kSender, 0), "Hello: node count 0 not in 1 to 64");
  expect_rejected(hello(kSender, 65), "node count 65");
  expect_rejected(hello(kSender, 2), "Hello: node 2 of 2 nodes");
  expect_rejected(hello(1, 3), "Hello: claims to be node 1");
  EXPECT_THROW(encode(Hello{1, 3, 0}, kSender), std::invalid_argument);

  std::vector<uint8_t> stop(6);
  put_le(stop, 4, kMaxStopReason + 1, 2);
  stop.resize(6 + kMaxStopReason + 1);
  expect_rejected(frame_of(MessageType::Stop, stop), "Stop: reason of 513 bytes is over the maximum 512");
  put_le(stop, 4, kMaxStopReason + 2, 2);
  expect_rejected(frame_of(MessageType::Stop, stop), "Stop: reason of 514 bytes");
  EXPECT_THROW(encode(Stop{1, std::string(kMaxStopReason + 1, 'x')}, kSender), std::invalid_argument);
  auto longest = Stop{1, std::string(kMaxStopReason, 'x')};
  EXPECT_TRUE(decode(encode(longest, kSender), kSender) == Message{longest});

  StatsReport stats;
  stats.node = kSender;
  stats[Stat::PagesSent] = 9;
  auto frame = encode(stats, kSender);
  EXPECT_EQ(std::get<StatsReport>(decode(frame, kSender))[Stat::PagesSent], 9u);
  expect_rejected(with_field(frame, 4, kStatCount + 1, 2), "StatsReport: 17 counters (this build has 16)");
  expect_rejected(with_field(frame, 0, 0, 4), "StatsReport: claims to be node 0");
  EXPECT_STREQ(to_string(Stat::InterruptsReceived), "interrupts_received");
  EXPECT_STREQ(to_string(Stat::ReadFaults), "read_faults");
}
