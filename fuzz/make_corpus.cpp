// Writes the seed corpus for the message-decoder fuzz target: one valid frame
// of every message type (as fuzz::kSender sends them) and, from each, frames
// truncated at many lengths, with single bytes flipped, with the length field
// off by one, with a trailing byte, two frames run together, and a few
// seeded random corruptions. ctest feeds the corpus to the target
// (corpus_driver.cpp); the libFuzzer build starts from it.
//
//   make_fuzz_corpus DIR     (DIR is emptied first)
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fuzz/fuzz_sender.hpp"
#include "net/messages.hpp"
#include "sample_messages.hpp"

namespace {

using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path dir) : dir_(std::move(dir)) {}

  void write(const std::string& name, const Bytes& bytes) {
    std::ofstream out(dir_ / (name + "-" + std::to_string(count_++)), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write into " + dir_.string());
  }
  size_t count() const { return count_; }

 private:
  fs::path dir_;
  size_t count_ = 0;
};

std::vector<size_t> truncation_lengths(size_t size) {
  std::vector<size_t> lengths;
  for (size_t n = 0; n < size; ++n) {
    // Every length through the header and the first fields, then a sample of
    // the rest (a DSM data frame is a page long).
    if (n <= 96 || n % 256 == 0 || n + 1 == size) lengths.push_back(n);
  }
  return lengths;
}

void write_variants(CorpusWriter& corpus, const std::string& name, const Bytes& frame, std::mt19937& rng) {
  corpus.write(name + "-valid", frame);
  for (size_t n : truncation_lengths(frame.size())) corpus.write(name + "-truncated", Bytes(frame.begin(), frame.begin() + static_cast<long>(n)));

  const size_t flip_limit = std::min<size_t>(frame.size(), 64);
  for (size_t i = 0; i < flip_limit; ++i) {
    for (uint8_t mask : {uint8_t{0xFF}, uint8_t{0x01}, uint8_t{0x80}}) {
      Bytes corrupt = frame;
      corrupt[i] ^= mask;
      corpus.write(name + "-flipped", corrupt);
    }
  }

  // The payload length field (offset 12) one off either way, with and
  // without the bytes to match.
  for (int delta : {-1, +1}) {
    Bytes corrupt = frame;
    uint32_t length = static_cast<uint32_t>(frame.size() - amalgam::net::kHeaderSize) + static_cast<uint32_t>(delta);
    for (int b = 0; b < 4; ++b) corrupt[12 + b] = static_cast<uint8_t>(length >> (8 * b));
    corpus.write(name + "-length", corrupt);
    if (delta > 0) corrupt.push_back(0);
    else if (!corrupt.empty()) corrupt.pop_back();
    corpus.write(name + "-length-resized", corrupt);
  }

  Bytes trailing = frame;
  trailing.push_back(0x5A);
  corpus.write(name + "-trailing", trailing);

  Bytes twice = frame;
  twice.insert(twice.end(), frame.begin(), frame.end());
  corpus.write(name + "-twice", twice);

  std::uniform_int_distribution<size_t> where(0, frame.size() - 1);
  std::uniform_int_distribution<int> value(0, 255);
  for (int i = 0; i < 24; ++i) {
    Bytes corrupt = frame;
    for (int k = 0; k <= i % 4; ++k) corrupt[where(rng)] = static_cast<uint8_t>(value(rng));
    corpus.write(name + "-random", corrupt);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    fs::path dir(argv[1]);
    fs::remove_all(dir);
    fs::create_directories(dir);
    CorpusWriter corpus(dir);
    std::mt19937 rng(20261129);  // fixed: the corpus is the same on every run
    using amalgam::fuzz::kSender;
    for (const auto& message : amalgam::net::test::sample_messages(kSender)) {
      std::string name = amalgam::net::to_string(amalgam::net::type_of(message));
      write_variants(corpus, name, amalgam::net::encode(message, kSender), rng);
    }
    // Well-formed frames from another node: the decoder must notice the
    // sender is not the peer they arrived from.
    for (const auto& message : amalgam::net::test::sample_messages(kSender + 1)) {
      std::string name = amalgam::net::to_string(amalgam::net::type_of(message));
      corpus.write(name + "-other-sender", amalgam::net::encode(message, kSender + 1));
    }
    corpus.write("empty", {});
    std::printf("fuzz corpus: %zu inputs in %s\n", corpus.count(), dir.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_fuzz_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
