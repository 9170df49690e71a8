// amalgam: command-line entry point.
//
//   amalgam run [--vcpus N] [--memory SIZE] [--numa N]
//               [--guest NAME | --kernel FILE [--initrd FILE] [--cmdline STR]]
//               [--timeout SECONDS] [--cpu host|baseline] [--stats]
//   amalgam guests
//   amalgam e820 [--memory SIZE] [--numa N] [--nodes N] [--vcpus N]
//
// Bad input: one line on stderr and exit status 2. The machine's own exit
// status is the guest's (see README, "Exit status").
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "cli/embedded_guests.hpp"
#include "cli/node_commands.hpp"
#include "cli/size_parse.hpp"
#include "boot/bzimage.hpp"
#include "boot/numa.hpp"
#include "common/error.hpp"
#include "common/stop_signals.hpp"
#include "kvm/system.hpp"
#include "machine/machine.hpp"
#include "machine/numa_placement.hpp"
#include "memory/e820.hpp"
#include "memory/layout.hpp"

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
  uint32_t numa = 0;  // 0: one NUMA node per node process
  std::string guest;
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  double timeout = 0;
  std::string cpu = "host";
  bool stats = false;
  uint32_t nodes = 1;
  std::string placement;
  std::string transport = "shm";
  uint32_t prefetch = 0;
  uint32_t claim = 64;
  uint32_t page_hold = 200;
  bool preallocate = false;
  uint32_t busy_poll = 0;
  uint32_t fault_spin = static_cast<uint32_t>(amalgam::cluster::kDefaultFaultSpin.count());
  // `amalgam node` only: which node this process is, and every node's address.
  uint32_t node_id = 0;
  std::string addresses;
  int report_fd = -1;
  uint64_t clock_epoch = 0;
};

amalgam::machine::MachineConfig build_config(const RunOptions& o) {
  amalgam::machine::MachineConfig config;
  config.vcpus = o.vcpus;
  config.memory_bytes = amalgam::cli::parse_size(o.memory, "--memory");
  config.numa_nodes = o.numa ? o.numa : o.nodes;
  config.cmdline = o.cmdline;
  config.timeout_seconds = o.timeout;
  config.baseline_cpu = o.cpu == "baseline";
  config.dsm_prefetch = o.prefetch;
  config.dsm_claim = o.claim;
  config.dsm_hold_us = o.page_hold;
  config.preallocate = o.preallocate;
  config.node_count = o.nodes;
  config.node_id = o.node_id;
  config.clock_epoch_ns = o.clock_epoch;
  if (o.nodes > 1) {
    if (o.vcpus < o.nodes)
      throw UsageError(fmt::format("--nodes {}: more nodes than vCPUs ({})", o.nodes, o.vcpus));
    config.placement = o.placement.empty() ? amalgam::machine::round_robin_placement(o.vcpus, o.nodes)
                                           : amalgam::machine::parse_placement(o.placement, o.vcpus, o.nodes);
  } else if (!o.placement.empty()) {
    throw UsageError("--placement: needs --nodes 2 or more");
  }
  if (!o.kernel.empty()) {
    // A bzImage is unpacked here, on the host, to the ELF vmlinux it carries.
    config.kernel = amalgam::boot::kernel_elf(read_file(o.kernel, "--kernel"), o.kernel);
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
  return config;
}

int run_machine(const RunOptions& o) {
  amalgam::machine::Machine machine(build_config(o));
  auto result = machine.run();
  if (o.stats) fmt::print(stderr, "{}", machine.stats_report());
  if (!result.failure.empty()) fmt::print(stderr, "amalgam: {}\n", result.failure);
  return result.status;
}

const char* e820_type_name(amalgam::memory::E820Type type) {
  using amalgam::memory::E820Type;
  switch (type) {
    case E820Type::Ram: return "usable";
    case E820Type::Reserved: return "reserved";
    case E820Type::Acpi: return "ACPI data";
    case E820Type::Nvs: return "ACPI NVS";
    case E820Type::Unusable: return "unusable";
  }
  return "unknown";
}

// The memory map and NUMA memory ranges the machine would give its guest, in
// the words Linux logs them with ("BIOS-e820: ..." from arch/x86/kernel/e820.c,
// "ACPI: SRAT: Node ..." from drivers/acpi/numa/srat.c), so that a test can
// compare the kernel's log against them line by line.
int print_e820(const RunOptions& o) {
  auto config = build_config(o);
  amalgam::memory::Layout layout(config.memory_bytes);
  for (const auto& e : amalgam::memory::build_e820(layout))
    fmt::print("BIOS-e820: [mem {:#018x}-{:#018x}] {}\n", e.addr, e.addr + e.size - 1, e820_type_name(e.type));
  auto plan = amalgam::machine::numa_plan(config, layout);
  for (size_t n = 0; n < plan.nodes.size(); ++n)
    for (const auto& r : plan.nodes[n].memory)
      fmt::print("ACPI: SRAT: Node {} PXM {} [mem {:#010x}-{:#010x}]\n", n, n, r.gpa, r.end() - 1);
  return 0;
}

// One line, to the launcher's report pipe when there is one, else stderr.
void report_error(int report_fd, const std::string& what) {
  std::string line = what + "\n";
  if (report_fd >= 0 && ::write(report_fd, line.data(), line.size()) >= 0) return;
  fmt::print(stderr, "amalgam: {}", line);
}

void add_machine_options(CLI::App* cmd, RunOptions& o) {
  cmd->add_option("--vcpus", o.vcpus, "number of vCPUs");
  cmd->add_option("--memory", o.memory, "guest RAM, e.g. 512M, 4G");
  cmd->add_option("--numa", o.numa, "NUMA nodes the vCPUs and RAM are split into (default: one per node)");
  auto* guest = cmd->add_option("--guest", o.guest, "a built-in test guest (see `amalgam guests`)");
  auto* kernel = cmd->add_option("--kernel", o.kernel, "an ELF kernel with a PVH entry note");
  guest->excludes(kernel);
  cmd->add_option("--initrd", o.initrd, "initial ramdisk for --kernel")->needs(kernel);
  cmd->add_option("--cmdline", o.cmdline, "kernel command line");
  cmd->add_option("--timeout", o.timeout, "stop with a failure after this many seconds (0: never)");
  cmd->add_option("--cpu", o.cpu, "CPU model: host (all KVM offers) or baseline")
      ->check(CLI::IsMember({"host", "baseline"}));
  cmd->add_flag("--stats", o.stats, "print per-vCPU and per-node counters at the end");
  cmd->add_option("--nodes", o.nodes, "node processes the machine is spread over");
  cmd->add_option("--placement", o.placement, "node of each vCPU, e.g. 0,1,1,0 (default: round-robin)");
  cmd->add_option("--transport", o.transport, "between nodes: shm (shared memory) or tcp")
      ->check(CLI::IsMember({"shm", "tcp"}));
  cmd->add_option("--prefetch", o.prefetch, "DSM read-ahead: pages fetched after a remote read miss (0: off)")
      ->check(CLI::Range(0u, 64u));
  cmd->add_option("--claim", o.claim,
                  "DSM first touch: untouched pages of the same home taken with the faulting one (0: off)")
      ->check(CLI::Range(0u, 512u))
      ->capture_default_str();
  cmd->add_option("--page-hold", o.page_hold,
                  "DSM progress: microseconds a page just mapped is kept before another node may take it, and "
                  "whether a node waiting for a page keeps the ones it has (0: neither)")
      ->check(CLI::Range(0u, 100'000u))
      ->capture_default_str();
  cmd->add_flag("--preallocate", o.preallocate,
               "allocate guest RAM before the guest runs (each node its own share): no first-touch faults, "
               "huge pages where the host has them");
  cmd->add_option("--busy-poll", o.busy_poll,
                  "microseconds a node keeps polling for messages before it sleeps (lower latency, more CPU)")
      ->check(CLI::Range(0u, 1'000'000u))
      ->capture_default_str();
  cmd->add_option("--fault-spin", o.fault_spin,
                  "microseconds a DSM fault waiting for another node polls for the answer before it sleeps (0: off)")
      ->check(CLI::Range(0u, 1'000'000u))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  // A stop signal that comes while amalgam starts (its libraries load and a
  // large guest is built: seconds under a sanitizer or in the lab) must
  // neither kill it without its line nor, when a shell started it in the
  // background with SIGINT ignored, be lost: blocked from here on, it stays
  // pending, even while ignored, for the signalfd of Machine::run or of the
  // launcher's Supervisor. A node process keeps the mask it was started with.
  const sigset_t startup_mask = amalgam::block_stop_signals();
  CLI::App app{"amalgam: one virtual machine across many hosts"};
  app.require_subcommand(1);
  RunOptions o;
  auto* run = app.add_subcommand("run", "run a guest (the demo guest when neither --guest nor --kernel is given)");
  add_machine_options(run, o);
  auto* node = app.add_subcommand("node", "run one node of a multi-node machine (started by `amalgam run --nodes N`, "
                                          "or by hand on each host)");
  add_machine_options(node, o);
  node->add_option("--node-id", o.node_id, "this node's number")->required();
  node->add_option("--addresses", o.addresses, "every node's host:port, comma-separated, in node order")->required();
  node->add_option("--report-fd", o.report_fd, "write the failure line here instead of stderr (the launcher's pipe)");
  node->add_option("--clock-epoch", o.clock_epoch,
                   "host CLOCK_REALTIME in ns at which the guest clock reads 0, the same on every node "
                   "(default: when this node starts)");
  auto* guests = app.add_subcommand("guests", "list the built-in test guests");
  auto* e820 = app.add_subcommand("e820", "print the E820 map and SRAT memory ranges a run with these options "
                                          "gives the guest, as Linux logs them");
  add_machine_options(e820, o);

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
    if (e820->parsed()) return print_e820(o);
    if (node->parsed()) {
      pthread_sigmask(SIG_SETMASK, &startup_mask, nullptr);
      amalgam::cluster::NodeOptions options;
      options.transport = o.transport;
      options.busy_poll = std::chrono::microseconds(o.busy_poll);
      options.fault_spin = std::chrono::microseconds(o.fault_spin);
      return amalgam::cli::run_node(build_config(o), o.addresses, options, o.stats, o.report_fd);
    }
    if (o.nodes > 1) {
      build_config(o);  // bad input is reported once, here, not by every node
      amalgam::kvm::System{};  // so is a host without KVM
      return amalgam::cli::launch_nodes(argc, argv, o.nodes, o.transport);
    }
    return run_machine(o);
  } catch (const UsageError& e) {
    report_error(node->parsed() ? o.report_fd : -1, e.what());
    return amalgam::machine::kStatusUsage;
  } catch (const amalgam::kvm::Unavailable& e) {
    report_error(node->parsed() ? o.report_fd : -1,
                 fmt::format("this host has no KVM ({}): run amalgam inside the lab, "
                             "scripts/lab.sh -- amalgam ... (README, The lab)",
                             e.what()));
    return amalgam::machine::kStatusMachineFailure;
  } catch (const std::exception& e) {
    report_error(node->parsed() ? o.report_fd : -1, e.what());
    return amalgam::machine::kStatusMachineFailure;
  }
}
