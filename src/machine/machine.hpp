// One virtual machine on one host: KVM VM, guest RAM, boot information,
// devices, vCPU threads; run() blocks until the guest ends, fails, times out
// or the user interrupts it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "devices/bus.hpp"
#include "devices/uart16550.hpp"
#include "kvm/system.hpp"
#include "kvm/vm.hpp"
#include "machine/cpu_topology.hpp"
#include "machine/interrupt_router.hpp"
#include "machine/ioapic_device.hpp"
#include "machine/machine_config.hpp"
#include "machine/node_services.hpp"
#include "memory/guest_memory.hpp"
#include "vcpu/vcpu_host.hpp"
#include "vcpu/vcpu_runner.hpp"

namespace amalgam::machine {

// How long the teardown waits for each thread of the machine to end
// (docs/teardown.md); one that takes longer ends the process with a line.
inline constexpr std::chrono::milliseconds kThreadStopLimit{10'000};

class Machine : public vcpu::VcpuHost {
 public:
  // Builds everything; throws UsageError for bad input (kernel, sizes) and
  // SystemError for a failing call. services: null on a single node.
  explicit Machine(MachineConfig config, NodeServices* services = nullptr);
  ~Machine() override;

  MachineResult run();
  // Per-vCPU counters, one line each, for --stats.
  std::string stats_report() const;

  // From other nodes (the cluster layer calls these from its receive thread).
  void deliver_remote_interrupt(const irq::InterruptMessage& message);
  uint64_t serve_io(const IoAccess& access);  // node 0 only
  void stop_from_remote(int status, const std::string& reason);

  // VcpuHost
  void port_read(uint16_t port, std::span<uint8_t> data) override;
  void port_write(uint16_t port, std::span<const uint8_t> data) override;
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) override;
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) override;
  void send_interrupt(const irq::InterruptMessage& message, uint32_t source_vcpu) override;
  void level_eoi(uint8_t vector) override;
  bool stopping() const override { return stopping_.load(std::memory_order_acquire); }
  void fail(const std::string& reason) override;

 private:
  void load_guest();
  void create_devices();
  void create_vcpus();
  // Records why the machine stops (the first reason wins) and wakes run(),
  // which alone tears down (tear_down()); safe from any thread, with any
  // lock held, and returns at once.
  void stop(int status, const std::string& failure, bool announce = true);
  void tear_down();
  bool is_device_node() const { return config_.node_id == 0; }
  uint32_t ioapic_id() const;  // the first ID above every vCPU's
  uint64_t forward(const IoAccess& access);
  uint64_t perform(const IoAccess& access);
  void stdin_loop();

  MachineConfig config_;
  NodeServices* services_;
  kvm::System system_;
  kvm::Vm vm_;
  memory::GuestMemory memory_;
  boot::NumaPlan numa_;   // the guest's NUMA nodes (numa_placement.hpp)
  CpuTopology topology_;  // APIC IDs and packages, from numa_
  uint64_t entry_ = 0;
  uint64_t start_info_ = 0;

  devices::Bus ports_{"I/O port"};
  devices::Bus mmio_{"MMIO"};
  std::shared_ptr<devices::Uart16550> uart_;
  std::shared_ptr<IoapicDevice> ioapic_;
  std::vector<std::unique_ptr<vcpu::VcpuRunner>> vcpus_;
  InterruptRouter router_;
  std::atomic<uint64_t> unclaimed_ports_{0}, unclaimed_mmio_{0};  // accesses no device decodes

  std::atomic<bool> stopping_{false};
  std::mutex result_mu_;
  MachineResult result_;
  bool announce_ = false;  // under result_mu_: the stop is this node's to announce
  UniqueFd stop_event_;  // eventfd: written once when the machine stops
};

}  // namespace amalgam::machine
