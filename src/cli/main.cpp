// amalgam: command-line entry point.
//
//   amalgam run [--vcpus N] [--memory SIZE] [--numa N]
//               [--guest NAME | --kernel FILE [--initrd FILE] [--cmdline STR]]
//               [--timeout SECONDS] [--cpu host|baseline] [--stats]
//   amalgam guests
//
// Bad input: one line on stderr and exit status 2. The machine's own exit
// status is the guest's (see README, "Exit status").
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "cli/embedded_guests.hpp"
#include "cli/size_parse.hpp"
#include "common/error.hpp"
#include "machine/machine.hpp"

namespace {

using amalgam::UsageError;

std::vector<uint8_t> read_file(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("{} {}: {}", flag, path, std::strerror(errno)));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw UsageError(fmt::format("{} {}: read failed", flag, path));
  return bytes;
}

std::span<const uint8_t> find_guest(const std::string& name) {
  std::string known;
  for (const auto& g : amalgam::cli::embedded_guests()) {
    if (g.name == name) return g.image;
    known += (known.empty() ? "" : ", ") + std::string(g.name);
  }
  throw UsageError(fmt::format("--guest {}: no such guest (known: {})", name, known));
}

struct RunOptions {
  uint32_t vcpus = 1;
  std::string memory = "256M";
  uint32_t numa = 1;
  std::string guest;
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  double timeout = 0;
  std::string cpu = "host";
  bool stats = false;
};

int run_machine(const RunOptions& o) {
  amalgam::machine::MachineConfig config;
  config.vcpus = o.vcpus;
  config.memory_bytes = amalgam::cli::parse_size(o.memory, "--memory");
  config.numa_nodes = o.numa;
  config.cmdline = o.cmdline;
  config.timeout_seconds = o.timeout;
  config.baseline_cpu = o.cpu == "baseline";
  if (!o.kernel.empty()) {
    config.kernel = read_file(o.kernel, "--kernel");
    config.kernel_name = o.kernel;
  } else {
    std::string name = o.guest.empty() ? std::string(amalgam::cli::kDemoGuest) : o.guest;
    auto image = find_guest(name);
    config.kernel.assign(image.begin(), image.end());
    config.kernel_name = "guest " + name;
  }
  if (!o.initrd.empty()) {
    config.initrd = read_file(o.initrd, "--initrd");
    config.initrd_name = o.initrd;
  }
  amalgam::machine::validate(config);

  amalgam::machine::Machine machine(std::move(config));
  auto result = machine.run();
  if (o.stats) fmt::print(stderr, "{}", machine.stats_report());
  if (!result.failure.empty()) fmt::print(stderr, "amalgam: {}\n", result.failure);
  return result.status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"amalgam: one virtual machine across many hosts"};
  app.require_subcommand(1);
  RunOptions o;
  auto* run = app.add_subcommand("run", "run a guest (the demo guest when neither --guest nor --kernel is given)");
  run->add_option("--vcpus", o.vcpus, "number of vCPUs");
  run->add_option("--memory", o.memory, "guest RAM, e.g. 512M, 4G");
  run->add_option("--numa", o.numa, "NUMA nodes the vCPUs and RAM are split into");
  auto* guest = run->add_option("--guest", o.guest, "a built-in test guest (see `amalgam guests`)");
  auto* kernel = run->add_option("--kernel", o.kernel, "an ELF kernel with a PVH entry note");
  guest->excludes(kernel);
  run->add_option("--initrd", o.initrd, "initial ramdisk for --kernel")->needs(kernel);
  run->add_option("--cmdline", o.cmdline, "kernel command line");
  run->add_option("--timeout", o.timeout, "stop with a failure after this many seconds (0: never)");
  run->add_option("--cpu", o.cpu, "CPU model: host (all KVM offers) or baseline")
      ->check(CLI::IsMember({"host", "baseline"}));
  run->add_flag("--stats", o.stats, "print per-vCPU counters at the end");
  auto* guests = app.add_subcommand("guests", "list the built-in test guests");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "amalgam: {}\n", e.what());
    return amalgam::machine::kStatusUsage;
  }

  try {
    if (guests->parsed()) {
      for (const auto& g : amalgam::cli::embedded_guests()) fmt::print("{}\n", g.name);
      return 0;
    }
    return run_machine(o);
  } catch (const UsageError& e) {
    fmt::print(stderr, "amalgam: {}\n", e.what());
    return amalgam::machine::kStatusUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "amalgam: {}\n", e.what());
    return amalgam::machine::kStatusMachineFailure;
  }
}
