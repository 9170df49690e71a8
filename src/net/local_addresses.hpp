// Addresses for nodes on one host: the launcher (`amalgam run --nodes N`),
// the fault benchmark and the transport tests start node processes that all
// listen on loopback.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace amalgam::net {

// `count` distinct addresses "127.0.0.1:<port>", each port free a moment ago
// (bound and released). The ports come from below the kernel's ephemeral
// range (ip_local_port_range) where it leaves room: the kernel hands out
// ephemeral ports to any bind(port 0) and outgoing connection, UCX's own tcp
// sockets included, so one picked from there could be taken before the node
// listens on it. Throws SystemError naming the failing call.
std::vector<std::string> pick_local_addresses(uint32_t count);

}  // namespace amalgam::net
