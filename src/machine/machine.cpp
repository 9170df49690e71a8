#include "machine/machine.hpp"
#include "machine/numa_placement.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <thread>

#include "boot/acpi.hpp"
#include "boot/numa.hpp"
#include "boot/pvh_loader.hpp"
#include "boot/reset_vector.hpp"
#include "boot/start_info.hpp"
#include "common/deadline_thread.hpp"
#include "common/error.hpp"
#include "common/stop_signals.hpp"
#include "common/wall_clock.hpp"
#include "devices/acpi_power.hpp"
#include "devices/cmos_rtc.hpp"
#include "devices/debug_exit.hpp"
#include "devices/pm_timer.hpp"
#include "irq/ioapic.hpp"
#include "memory/e820.hpp"
#include "vcpu/clock.hpp"
#include "vcpu/cpuid_profile.hpp"
#include "vcpu/kick.hpp"

namespace amalgam::machine {

namespace {
constexpr uint64_t kLapicTimerHz = 1'000'000'000;  // as QEMU and KVM: 1 ns per timer tick before the divider
// Intel VMX needs three pages for a real-mode TSS and one for an identity
// page table, somewhere guest RAM and devices are not (as QEMU places them).
constexpr uint64_t kVmxIdentityMap = 0xFFFB'C000;
constexpr uint64_t kVmxTss = 0xFFFB'D000;
constexpr uint64_t kIoapicSize = 0x1000;
constexpr uint32_t kMsrTsc = 0x10;  // IA32_TIME_STAMP_COUNTER
static_assert(devices::CmosRtc::kCenturyRegister == boot::kCmosCenturyIndex, "the FADT points at the RTC's century");

void write_stdout(uint8_t byte) {
  while (::write(STDOUT_FILENO, &byte, 1) < 0 && errno == EINTR) {
  }
}
}  // namespace

namespace {
MachineConfig validated(MachineConfig config) {
  validate(config);
  return config;
}

std::vector<uint32_t> placement_by_apic(const MachineConfig& config, const CpuTopology& topology) {
  std::vector<uint32_t> out(topology.max_apic_id() + 1, InterruptRouter::kNoNode);
  for (uint32_t i = 0; i < config.vcpus; ++i) out[topology.apic_ids[i]] = config.node_of_vcpu(i);
  return out;
}
}  // namespace

Machine::Machine(MachineConfig config, NodeServices* services)
    : config_(validated(std::move(config))),
      services_(services),
      vm_(system_.create_vm()),
      memory_(memory::Layout(config_.memory_bytes)),
      numa_(numa_plan(config_, memory_.layout())),
      topology_(make_cpu_topology(numa_, config_.vcpus)),
      router_(vcpus_, config_.node_id, placement_by_apic(config_, topology_),
              [this](uint32_t node, const irq::InterruptMessage& m) {
                if (services_) services_->send_interrupt(node, m);
              }) {
  // The DSM owns guest memory before anything (the loader included) touches it.
  if (services_) services_->attach_memory(memory_);
  else if (config_.preallocate) memory_.preallocate();
  stop_event_.reset(static_cast<int>(check_syscall(::eventfd(0, EFD_CLOEXEC), "eventfd")));
  uint32_t slot = 0;
  for (const auto& s : memory_.slots()) vm_.set_memory_region(slot++, s.gpa, s.size, s.host);
  vm_.set_identity_map_address(kVmxIdentityMap);
  vm_.set_tss_address(kVmxTss);
  // IA32_APIC_BASE and IA32_TSC_DEADLINE belong to our LAPIC, not KVM's.
  const uint32_t trapped[] = {0x1B, 0x6E0};
  vm_.trap_msrs(trapped);
  if (is_device_node()) {
    load_guest();
    create_devices();
  }
  create_vcpus();
}

Machine::~Machine() = default;

void Machine::load_guest() {
  auto kernel = boot::load_pvh_elf(memory_, config_.kernel, config_.kernel_name);
  entry_ = kernel.pvh_entry;

  std::vector<boot::BootModule> modules;
  if (config_.initrd) {
    // The initrd goes at the top of RAM below 4 GiB, page aligned, above the kernel.
    uint64_t size = config_.initrd->size();
    uint64_t top = memory_.layout().ram()[0].end();
    uint64_t gpa = size <= top ? ((top - size) & ~(memory::kPageSize - 1)) : 0;
    if (size > top || gpa < kernel.load_end)
      throw UsageError(fmt::format("initrd {}: {} bytes do not fit in guest RAM below {:#x} above the kernel",
                                   config_.initrd_name, size, top));
    memory_.write(gpa, *config_.initrd);
    modules.push_back({gpa, size});
  }

  boot::AcpiConfig acpi;
  acpi.apic_ids = topology_.apic_ids;
  acpi.numa = numa_;
  acpi.ioapic_id = static_cast<uint8_t>(ioapic_id());
  uint64_t rsdp = boot::write_acpi_tables(memory_, acpi);
  auto stub = boot::reset_vector_stub();
  memory_.write(memory::kResetVector, stub);

  boot::StartInfoConfig info;
  info.cmdline = config_.cmdline;
  info.e820 = memory::build_e820(memory_.layout());
  info.rsdp_gpa = rsdp;
  info.modules = modules;
  start_info_ = boot::write_start_info(memory_, info);
}

void Machine::create_devices() {
  ioapic_ = std::make_shared<IoapicDevice>(static_cast<uint8_t>(ioapic_id()),
                                           [this](const irq::InterruptMessage& m) { router_.route(m, std::nullopt); });
  mmio_.add(memory::kIoapicBase, kIoapicSize, ioapic_, "IOAPIC");

  uart_ = std::make_shared<devices::Uart16550>(
      write_stdout, [this](bool level) { ioapic_->set_irq(devices::Uart16550::kCom1Irq, level); });
  ports_.add(devices::Uart16550::kCom1Port, devices::Uart16550::kSize, uart_, "COM1");
  ports_.add(devices::DebugExit::kPort, 4,
             std::make_shared<devices::DebugExit>([this](int status) { stop(status, ""); }), "debug-exit");
  ports_.add(boot::kAcpiSleepControlPort, devices::AcpiPower::kSize,
             std::make_shared<devices::AcpiPower>(
                 boot::kAcpiS5SleepType, boot::kAcpiResetValue, [this] { stop(0, ""); },
                 [this] { stop(kStatusGuestReset, ""); }),
             "ACPI power");
  // The RTC Linux finds at 0x70/0x71 without asking ACPI (docs/design.md,
  // Guest time); on other nodes its ports are forwarded here like the UART's.
  ports_.add(devices::CmosRtc::kPort, devices::CmosRtc::kSize,
             std::make_shared<devices::CmosRtc>([] { return static_cast<int64_t>(realtime_ns()); }), "CMOS RTC");
  ports_.add(boot::kAcpiPmTimerPort, devices::PmTimer::kSize,
             std::make_shared<devices::PmTimer>(vcpu::monotonic_ns), "ACPI PM timer");
}

uint32_t Machine::ioapic_id() const { return topology_.max_apic_id() + 1; }

void Machine::create_vcpus() {
  auto supported = system_.supported_cpuid();
  for (uint32_t i = 0; i < config_.vcpus; ++i) {
    if (config_.node_of_vcpu(i) != config_.node_id) continue;
    auto kvm_vcpu = vm_.create_vcpu(i);
    uint32_t apic_id = topology_.apic_ids[i];
    vcpu::CpuidParams params{apic_id, config_.vcpus, kvm_vcpu.tsc_khz(), static_cast<uint32_t>(kLapicTimerHz / 1000),
                             config_.baseline_cpu, topology_.package_shift, topology_.package_vcpus[i]};
    kvm_vcpu.set_cpuid(vcpu::make_cpuid(supported, params));
    // Every vCPU of every node reads the host's TSC unshifted: on one host
    // all agree exactly (docs/design.md, Guest time). Where KVM cannot set
    // the offset, the TSC is written with the host's value instead.
    if (!kvm_vcpu.set_tsc_offset(0)) kvm_vcpu.set_msr(kMsrTsc, vcpu::host_tsc());
    vcpus_.push_back(
        std::make_unique<vcpu::VcpuRunner>(i, std::move(kvm_vcpu), apic_id, i == 0, kLapicTimerHz, *this));
  }
  // kvmclock reads the time since the machine's epoch on every node.
  uint64_t epoch = config_.clock_epoch_ns ? config_.clock_epoch_ns : realtime_ns();
  uint64_t now = realtime_ns();
  vm_.set_clock(now > epoch ? now - epoch : 0, now);
  // vCPU 0, the BSP, starts at the PVH entry; the others wait for SIPI.
  if (is_device_node() && !vcpus_.empty() && vcpus_[0]->index() == 0)
    vcpus_[0]->start_at_pvh_entry(entry_, start_info_);
}

MachineResult Machine::run() {
  vcpu::install_kick_handler();
  // The stop signals are read from a signalfd here; every thread inherits
  // the blocked mask, so none of them is interrupted by those signals.
  sigset_t old_mask = block_stop_signals();
  sigset_t stop_signals = stop_signal_set();
  sigset_t kick_only;
  sigemptyset(&kick_only);
  sigaddset(&kick_only, vcpu::kKickSignal);
  if (int err = pthread_sigmask(SIG_BLOCK, &kick_only, nullptr); err != 0)  // vCPU threads unblock it
    throw SystemError("pthread_sigmask", err);
  UniqueFd signals(static_cast<int>(check_syscall(::signalfd(-1, &stop_signals, SFD_CLOEXEC), "signalfd")));

  std::vector<DeadlineThread> threads;
  if (!services_ || services_->wait_for_start())
    for (auto& v : vcpus_) threads.emplace_back([&v] { v->run(); });
  else if (!stopping())
    fail("the nodes did not start the machine");  // whoever stopped the start says why first
  DeadlineThread input;
  if (config_.forward_stdin && is_device_node()) input = DeadlineThread([this] { stdin_loop(); });

  uint64_t start = vcpu::monotonic_ns();
  bool timed_out = false;
  while (!stopping()) {
    int timeout_ms = -1;
    if (config_.timeout_seconds > 0) {
      double left = config_.timeout_seconds - static_cast<double>(vcpu::monotonic_ns() - start) / 1e9;
      if (left <= 0) {
        timed_out = true;
        stop(kStatusMachineFailure, "");
        break;
      }
      timeout_ms = static_cast<int>(left * 1000) + 1;
    }
    pollfd fds[2] = {{signals.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) {
      fail(fmt::format("poll: {}", std::strerror(errno)));
      break;
    }
    if (n > 0 && (fds[0].revents & POLLIN)) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        std::lock_guard lock(result_mu_);
        if (!stopping()) {
          result_.failure = fmt::format("stopped by {}", sigabbrev_np(sig) ? sigabbrev_np(sig) : "signal");
          result_.status = 128 + sig;
          result_.by_signal = true;
        }
      }
      stop(128 + static_cast<int>(info.ssi_signo), "");
    }
  }
  tear_down();
  for (size_t i = 0; i < threads.size(); ++i)
    threads[i].join_or_exit(kThreadStopLimit, fmt::format("node {}: vCPU {}", config_.node_id, vcpus_[i]->index()),
                            kStatusMachineFailure);
  input.join_or_exit(kThreadStopLimit, fmt::format("node {}: the console input thread", config_.node_id),
                     kStatusMachineFailure);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  std::lock_guard lock(result_mu_);
  if (timed_out) {
    // Name the vCPU that was busy (a halted one was waiting for the others).
    size_t busy = 0;
    for (size_t i = 0; i < vcpus_.size(); ++i)
      if (!vcpus_[i]->was_halted()) {
        busy = i;
        break;
      }
    result_.failure = fmt::format("vCPU {}: guest did not finish within --timeout {} s, at RIP {:#x}", busy,
                                  config_.timeout_seconds, vcpus_[busy]->final_rip());
    result_.status = kStatusMachineFailure;
  }
  return result_;
}

void Machine::stop(int status, const std::string& failure, bool announce) {
  {
    std::lock_guard lock(result_mu_);
    if (stopping()) return;
    if (result_.failure.empty()) {
      result_.status = status;
      result_.failure = failure;
    }
    announce_ = announce;
    stopping_.store(true, std::memory_order_release);
  }
  // Only the stop is posted here: whichever thread found the reason (a
  // vCPU, the receive thread inside the DSM's lock, the DSM's fault thread)
  // returns, and run() tears down, on its own thread (docs/teardown.md).
  for (auto& v : vcpus_) v->kick();
  uint64_t one = 1;
  if (::write(stop_event_.get(), &one, sizeof one) != sizeof one)
    fmt::print(stderr, "amalgam: node {}: write to the stop eventfd: {}\n", config_.node_id, std::strerror(errno));
}

// The teardown, in order, on run()'s thread: tell the other nodes (a local
// failure only), release memory from the DSM so that no vCPU waits on a page
// of a node that has gone, then the threads end.
void Machine::tear_down() {
  if (!services_) return;
  bool announce;
  int status;
  std::string failure;
  {
    std::lock_guard lock(result_mu_);
    announce = announce_;
    status = result_.status;
    failure = result_.failure;
  }
  if (announce) {
    try {
      services_->announce_stop(status, failure);
    } catch (const std::exception&) {
      // The others learn it from the launcher when this node exits.
    }
  }
  services_->machine_stopping();
}

void Machine::fail(const std::string& reason) { stop(kStatusMachineFailure, reason); }

void Machine::stdin_loop() {
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (fds[0].revents & (POLLNVAL | POLLERR)) return;
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      uint8_t buf[256];
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) return;  // end of input: the guest keeps running without it
      try {
        uart_->receive(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
      } catch (const std::exception& e) {  // (the UART may raise an interrupt for another node)
        fail(fmt::format("console input: {}", e.what()));
        return;
      }
    }
  }
}

uint64_t Machine::forward(const IoAccess& access) {
  try {
    return services_->forward_io(access);
  } catch (const std::exception& e) {
    fail(fmt::format("vCPU {}: {} access at {:#x} not answered by node 0: {}", access.vcpu,
                     access.mmio ? "MMIO" : "port", access.address, e.what()));
    return ~uint64_t{0};
  }
}

// Node 0 serves accesses itself; other nodes forward them (docs/design.md, Devices live on node 0).
uint64_t Machine::perform(const IoAccess& access) { return is_device_node() ? serve_io(access) : forward(access); }

void Machine::port_read(uint16_t port, std::span<uint8_t> data) {
  devices::store_le(data, perform({0, false, false, port, static_cast<uint8_t>(data.size()), 0}));
}

void Machine::port_write(uint16_t port, std::span<const uint8_t> data) {
  perform({0, false, true, port, static_cast<uint8_t>(data.size()), devices::load_le(data)});
}

void Machine::mmio_read(uint64_t gpa, std::span<uint8_t> data) {
  devices::store_le(data, perform({0, true, false, gpa, static_cast<uint8_t>(data.size()), 0}));
}

void Machine::mmio_write(uint64_t gpa, std::span<const uint8_t> data) {
  perform({0, true, true, gpa, static_cast<uint8_t>(data.size()), devices::load_le(data)});
}

uint64_t Machine::serve_io(const IoAccess& access) {
  uint8_t bytes[8] = {};
  std::span<uint8_t> data(bytes, std::min<size_t>(access.size, 8));
  const devices::Bus& bus = access.mmio ? mmio_ : ports_;
  uint64_t address = access.mmio ? access.address : static_cast<uint16_t>(access.address);
  bool decoded;
  if (access.is_write) {
    devices::store_le(data, access.data);
    decoded = bus.write(address, data);
  } else {
    decoded = bus.read(address, data);
  }
  // Nothing there: all ones or dropped, as on a PC (guests probe), but counted
  // for --stats.
  if (!decoded) (access.mmio ? unclaimed_mmio_ : unclaimed_ports_)++;
  return access.is_write ? 0 : devices::load_le(data);
}

void Machine::send_interrupt(const irq::InterruptMessage& message, uint32_t source_vcpu) {
  // source_vcpu is a global vCPU index; the router wants the local runner.
  std::optional<size_t> local;
  for (size_t i = 0; i < vcpus_.size(); ++i)
    if (vcpus_[i]->index() == source_vcpu) local = i;
  router_.route(message, local);
}

void Machine::deliver_remote_interrupt(const irq::InterruptMessage& message) { router_.route_from_remote(message); }

void Machine::stop_from_remote(int status, const std::string& reason) { stop(status, reason, false); }

void Machine::level_eoi(uint8_t vector) {
  if (is_device_node()) {
    ioapic_->eoi(vector);
    return;
  }
  // The IOAPIC's EOI register (version 0x20) does the same from afar.
  forward({0, true, true, memory::kIoapicBase + irq::Ioapic::kEoi, 4, vector});
}

std::string Machine::stats_report() const {
  std::string out;
  for (const auto& v : vcpus_) {
    const auto& s = v->stats();
    out += fmt::format("node {} vcpu {}: exits={} io={} mmio={} lapic={} hlt={} injected={} ipis_sent={}\n", config_.node_id,
                       v->index(),
                       s.exits.load(), s.io_exits.load(), s.mmio_exits.load(), s.lapic_accesses.load(),
                       s.halts.load(), s.interrupts_injected.load(), s.ipis_sent.load());
  }
  if (is_device_node())
    out += fmt::format("node {} devices: unclaimed_port_accesses={} unclaimed_mmio_accesses={}\n", config_.node_id,
                       unclaimed_ports_.load(), unclaimed_mmio_.load());
  if (services_) out += fmt::format("node {}: {}\n", config_.node_id, services_->stats_line());
  return out;
}

}  // namespace amalgam::machine
