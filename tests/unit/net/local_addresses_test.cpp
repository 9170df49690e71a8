#include "net/local_addresses.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

namespace amalgam::net {
namespace {

// Distinct loopback ports, below the kernel's ephemeral range where it
// leaves room (it does on Linux's default, 32768 to 60999).
TEST(LocalAddresses, DistinctLoopbackPortsBelowTheEphemeralRange) {
  uint32_t first_ephemeral = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> first_ephemeral;
  auto addresses = pick_local_addresses(8);
  ASSERT_EQ(addresses.size(), 8u);
  std::set<uint32_t> ports;
  for (const std::string& a : addresses) {
    ASSERT_EQ(a.rfind("127.0.0.1:", 0), 0u) << a;
    uint32_t port = static_cast<uint32_t>(std::stoul(a.substr(10)));
    ports.insert(port);
    if (first_ephemeral >= 11000) {
      EXPECT_GE(port, 10000u) << a;
      EXPECT_LT(port, first_ephemeral) << a;
    }
  }
  EXPECT_EQ(ports.size(), 8u);
}

}  // namespace
}  // namespace amalgam::net
