#include "net/local_addresses.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <fstream>
#include <random>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace amalgam::net {

namespace {

// Below this, ports of well-known and common services.
constexpr uint16_t kLowestPort = 10000;
// Fewer free ports than this below the ephemeral range: use bind(port 0).
constexpr uint32_t kFewestPorts = 1000;

// The first port of the kernel's ephemeral range (Linux's default if unreadable).
uint32_t first_ephemeral_port() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  uint32_t first = 32768, last = 60999;
  if (!(range >> first >> last) || first > 65535) return 32768;
  return first;
}

// Binds a loopback TCP socket to `port` (0: the kernel picks); an invalid
// fd if that port is in use.
UniqueFd bind_loopback(uint16_t port) {
  UniqueFd s(static_cast<int>(check_syscall(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket")));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno == EADDRINUSE && port != 0) return UniqueFd();
    throw SystemError(fmt::format("bind(127.0.0.1:{})", port), errno);
  }
  return s;
}

uint16_t port_of(const UniqueFd& s) {
  sockaddr_in a{};
  socklen_t length = sizeof a;
  check_syscall(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &length), "getsockname");
  return ntohs(a.sin_port);
}

}  // namespace

std::vector<std::string> pick_local_addresses(uint32_t count) {
  std::vector<UniqueFd> sockets;  // all bound at once: distinct ports
  uint32_t first_ephemeral = first_ephemeral_port();
  if (first_ephemeral >= kLowestPort + kFewestPorts) {
    // From a random place in [kLowestPort, first_ephemeral), so that two
    // launchers starting at once seldom try the same ports.
    uint32_t span = first_ephemeral - kLowestPort;
    std::random_device random;
    uint32_t start = std::uniform_int_distribution<uint32_t>(0, span - 1)(random);
    for (uint32_t i = 0; i < span && sockets.size() < count; ++i) {
      UniqueFd s = bind_loopback(static_cast<uint16_t>(kLowestPort + (start + i) % span));
      if (s.valid()) sockets.push_back(std::move(s));
    }
  }
  while (sockets.size() < count) sockets.push_back(bind_loopback(0));
  std::vector<std::string> out;
  for (const UniqueFd& s : sockets) out.push_back(fmt::format("127.0.0.1:{}", port_of(s)));
  return out;
}

}  // namespace amalgam::net
