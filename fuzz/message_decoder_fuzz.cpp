// libFuzzer target for the node-to-node message decoder (net/messages.hpp).
//
// The property is net::check_decode(): any byte string either is rejected with
// a DecodeError naming the peer, or decodes to a message that re-encodes to
// exactly the same bytes. Anything else (a crash, a sanitizer report, another
// exception, a message that does not round-trip) aborts, which libFuzzer and
// the corpus driver (corpus_driver.cpp) both report as a failure.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>

#include "fuzz/fuzz_sender.hpp"
#include "net/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    amalgam::net::check_decode(std::span<const uint8_t>(data, size), amalgam::fuzz::kSender);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "message decoder: %s\n", e.what());
    std::abort();
  }
  return 0;
}
