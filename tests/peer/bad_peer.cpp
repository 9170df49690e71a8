// bad_peer AMALGAM CASE: a peer that misbehaves against a running node.
//
// Starts `AMALGAM node` as node 0 of a 2-node machine (the counter guest),
// joins it as node 1 (a real handshake, Ready, then Start), sends what CASE
// names, and checks that node 0 stops within kStopLimit (times
// $AMALGAM_TIME_SCALE), with a non-zero status and one line that names
// node 1: never a hang, never a crash. Prints PASS or FAIL and exits 0 or 1.
#include <fmt/format.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cluster/node.hpp"
#include "net/local_addresses.hpp"
#include "net/messages.hpp"
#include "net/ucx_transport.hpp"

namespace {

using namespace amalgam;
using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kStopLimit{5};
constexpr std::chrono::seconds kStartLimit{60};
constexpr net::NodeId kSelf = 1;

[[noreturn]] void fail(const std::string& what) {
  fmt::print("FAIL bad_peer: {}\n", what);
  std::exit(1);
}

int time_scale() {
  const char* s = std::getenv("AMALGAM_TIME_SCALE");
  int v = s ? std::atoi(s) : 1;
  return v > 0 ? v : 1;
}

dsm::Message dsm_message(dsm::MessageType type, dsm::PageNumber page) {
  dsm::Message m;
  m.type = type;
  m.page = page;
  m.request = 7;
  m.sender = kSelf;
  m.destination = 0;
  m.requester = kSelf;
  return m;
}

// Page 0x100 (1 MiB) is guest RAM homed on node 0: the counter guest's
// NUMA split gives node 0 the low half.
constexpr dsm::PageNumber kNodeZeroPage = 0x100;

std::vector<uint8_t> heartbeat() { return net::encode(net::Message{net::Heartbeat{1}}, kSelf); }

// Each case: the frames to send, all at once.
using Frames = std::vector<std::vector<uint8_t>>;
const std::map<std::string, std::function<Frames()>> kCases = {
    {"outside-ram", [] { return Frames{net::encode(dsm_message(dsm::MessageType::Request, 1ull << 40), kSelf)}; }},
    {"unasked-grant",
     [] {
       auto m = dsm_message(dsm::MessageType::Grant, kNodeZeroPage);
       m.requester = 0;
       m.source = dsm::DataSource::Zero;
       return Frames{net::encode(m, kSelf)};
     }},
    {"stray-done", [] { return Frames{net::encode(dsm_message(dsm::MessageType::Done, kNodeZeroPage), kSelf)}; }},
    // A frame whose header names node 0; a DSM message whose own sender
    // field names node 0 in a frame from node 1.
    {"other-sender", [] { return Frames{net::encode(net::Message{net::Heartbeat{1}}, 0)}; }},
    {"dsm-other-sender",
     [] {
       auto m = dsm_message(dsm::MessageType::Request, kNodeZeroPage);
       m.sender = 0;
       m.requester = 0;
       auto f = net::encode(m, 0);
       f[8] = static_cast<uint8_t>(kSelf);  // the header's sender (net/frame.hpp)
       return Frames{f};
     }},
    {"unknown-io-reply", [] { return Frames{net::encode(net::Message{net::IoReply{999, 0}}, kSelf)}; }},
    {"truncated",
     [] {
       auto f = heartbeat();
       f.pop_back();
       return Frames{f};
     }},
    {"oversized",
     [] {
       auto f = heartbeat();
       f.push_back(0);
       return Frames{f};
     }},
    {"garbage", [] { return Frames{std::vector<uint8_t>(64, 0xA5)}; }},
    // Garbage on node 0's listening port before any handshake (sent by
    // main): node 0 must go on as if nothing happened; the stray Done after
    // the real handshake then shows that it did.
    {"garbage-before-handshake",
     [] { return Frames{net::encode(dsm_message(dsm::MessageType::Done, kNodeZeroPage), kSelf)}; }},
};

// Connects to `address` ("127.0.0.1:port") as soon as something listens
// there, writes 64 bytes of garbage and hangs up.
void send_raw_garbage(const std::string& address, std::chrono::milliseconds limit) {
  auto colon = address.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  if (::inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr) != 1) fail("bad address " + address);
  auto deadline = Clock::now() + limit;
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(fmt::format("socket: {}", std::strerror(errno)));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
      std::vector<uint8_t> garbage(64, 0xA5);
      [[maybe_unused]] auto n = ::write(fd, garbage.data(), garbage.size());
      ::close(fd);
      return;
    }
    ::close(fd);
    if (Clock::now() > deadline) fail("node 0 never listened on " + address);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

struct Node0 {
  pid_t pid = -1;
  int stderr_fd = -1;
};

Node0 start_node0(const std::string& amalgam, const std::string& addresses) {
  int fds[2];
  if (::pipe(fds) != 0) fail(fmt::format("pipe: {}", std::strerror(errno)));
  pid_t pid = ::fork();
  if (pid < 0) fail(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(amalgam.c_str(), amalgam.c_str(), "node", "--node-id", "0", "--nodes", "2", "--vcpus", "2", "--guest",
            "counter", "--addresses", addresses.c_str(), "--timeout", "120", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace

// Under LeakSanitizer: this peer closes its transport after node 0 has gone,
// and UCX then keeps a few of its own allocations (libucs, not reachable
// from this code) to the end of the process; seen in 1 of 10 cases in CI.
// Only this test tool is exempted.
extern "C" const char* __lsan_default_suppressions() { return "leak:libucs.so\n"; }

int main(int argc, char** argv) {
  if (argc != 3 || !kCases.count(argv[2])) {
    std::string names;
    for (const auto& [name, _] : kCases) names += " " + name;
    fmt::print(stderr, "usage: bad_peer AMALGAM CASE (CASE:{})\n", names);
    return 2;
  }
  std::string amalgam = argv[1], which = argv[2];
  auto addresses = net::pick_local_addresses(2);
  Node0 node0 = start_node0(amalgam, addresses[0] + "," + addresses[1]);
  int scale = time_scale();

  if (which == "garbage-before-handshake") send_raw_garbage(addresses[0], kStartLimit * scale);
  int status = 0;
  bool ended = false;
  auto reap = [&] {
    if (!ended && ::waitpid(node0.pid, &status, WNOHANG) == node0.pid) ended = true;
    return ended;
  };
  try {
    net::UcxTransport::Options o;
    o.self = kSelf;
    o.nodes = 2;
    o.addresses = addresses;
    o.build_id = cluster::kProtocolBuildId;
    o.connect_timeout = std::chrono::milliseconds(kStartLimit) * scale;
    net::UcxTransport transport(o);
    bool started = false;
    auto on_frame = [&](net::NodeId from, std::span<const uint8_t> frame) {
      if (std::holds_alternative<net::Start>(net::decode(frame, from))) started = true;
    };
    transport.send(0, net::encode(net::Message{net::Ready{}}, kSelf));
    auto start_deadline = Clock::now() + kStartLimit * scale;
    while (!started) {
      if (reap()) fail("node 0 ended before it started the machine");
      if (Clock::now() > start_deadline) fail("node 0 did not start the machine");
      transport.poll(std::chrono::milliseconds(50), on_frame);
    }
    auto sent = Clock::now();
    for (auto& frame : kCases.at(which)()) transport.send(0, std::move(frame));
    auto limit = kStopLimit * scale;
    while (!reap()) {
      if (Clock::now() - sent > limit) {
        ::kill(node0.pid, SIGKILL);
        ::waitpid(node0.pid, nullptr, 0);
        fail(fmt::format("{}: node 0 was still running {} s after it", which,
                         std::chrono::duration_cast<std::chrono::seconds>(limit).count()));
      }
      try {
        transport.poll(std::chrono::milliseconds(20), [](net::NodeId, std::span<const uint8_t>) {});
      } catch (const std::exception&) {
        // node 0 going away is what this waits for
      }
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent).count();
    transport.close();
    std::string err = read_all(node0.stderr_fd);
    while (!err.empty() && err.back() == '\n') err.pop_back();
    if (WIFSIGNALED(status)) fail(fmt::format("{}: node 0 died of signal {}: {}", which, WTERMSIG(status), err));
    if (WEXITSTATUS(status) == 0) fail(fmt::format("{}: node 0 ended with status 0", which));
    if (err.find('\n') != std::string::npos) fail(fmt::format("{}: node 0 said more than one line:\n{}", which, err));
    if (err.find("node 1") == std::string::npos) fail(fmt::format("{}: node 0's line does not name node 1: {}", which, err));
    if (err.find("node 1") != err.rfind("node 1"))
      fail(fmt::format("{}: node 0's line names node 1 more than once: {}", which, err));
    fmt::print("PASS bad_peer {}: node 0 stopped after {} ms with status {}: {}\n", which, took, WEXITSTATUS(status),
               err);
    return 0;
  } catch (const std::exception& e) {
    if (!reap()) {
      ::kill(node0.pid, SIGKILL);
      ::waitpid(node0.pid, nullptr, 0);
    }
    fail(fmt::format("{}: {}", which, e.what()));
  }
}
