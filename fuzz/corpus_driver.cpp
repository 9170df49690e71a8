// Runs the fuzz target over a corpus without libFuzzer, so that a plain g++
// build (and the AddressSanitizer build) checks every corpus input in ctest:
//
//   fuzz_message_decoder_corpus DIR|FILE...
//
// Prints how many inputs it fed; a failing input aborts inside the target
// after naming the problem.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool feed_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz corpus: cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
    return 2;
  }
  size_t fed = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (!entry.is_regular_file()) continue;
        if (!feed_file(entry.path())) return 1;
        ++fed;
      }
    } else {
      if (!feed_file(arg)) return 1;
      ++fed;
    }
  }
  if (fed == 0) {
    std::fprintf(stderr, "fuzz corpus: no inputs found\n");
    return 1;
  }
  std::printf("fuzz corpus: %zu inputs decoded or rejected cleanly\n", fed);
  return 0;
}
