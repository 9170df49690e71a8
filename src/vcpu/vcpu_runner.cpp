#include "vcpu/vcpu_runner.hpp"

#include <fmt/format.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

#include "common/error.hpp"
#include "memory/layout.hpp"
#include "vcpu/boot_state.hpp"
#include "vcpu/clock.hpp"
#include "vcpu/kick.hpp"

namespace amalgam::vcpu {

namespace {
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrApicBase = 0x1B;
constexpr uint32_t kMsrTscDeadline = 0x6E0;
constexpr uint64_t kLapicPageSize = 0x1000;

const char* internal_error_name(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failure";
    default: return "internal error";
  }
}

// " (instruction bytes 0f c7 0e ...)" when KVM reports the instruction it
// could not emulate (struct kvm_run.emulation_failure), else "".
std::string failed_instruction(const kvm_run& run) {
  const auto& f = run.emulation_failure;
  if (run.internal.suberror != KVM_INTERNAL_ERROR_EMULATION || run.internal.ndata < 3 ||
      !(f.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) || f.insn_size == 0)
    return "";
  std::string bytes;
  for (uint8_t i = 0; i < std::min<uint8_t>(f.insn_size, sizeof f.insn_bytes); ++i)
    bytes += fmt::format("{}{:02x}", i ? " " : "", f.insn_bytes[i]);
  return fmt::format(", instruction bytes {}", bytes);
}
}  // namespace

VcpuRunner::VcpuRunner(uint32_t index, kvm::Vcpu vcpu, uint32_t apic_id, bool bsp, uint64_t apic_timer_hz,
                       VcpuHost& host)
    : index_(index),
      vcpu_(std::move(vcpu)),
      host_(host),
      tsc_hz_(uint64_t{vcpu_.tsc_khz()} * 1000),
      lapic_(apic_id, bsp, apic_timer_hz, tsc_hz_),
      state_(bsp ? State::Running : State::WaitForSipi) {
  tsc_offset_ = static_cast<int64_t>(vcpu_.get_msr(kMsrTsc) - host_tsc());
  reset_regs_ = vcpu_.regs();
  reset_sregs_ = vcpu_.sregs();
  reset_fpu_ = vcpu_.fpu();
}

VcpuRunner::~VcpuRunner() {
  if (timer_created_) timer_delete(timer_);
}

void VcpuRunner::start_at_pvh_entry(uint64_t entry, uint64_t start_info) {
  kvm_sregs sregs = vcpu_.sregs();
  kvm_regs regs{};
  set_pvh_entry_state(sregs, regs, entry, start_info);
  vcpu_.set_sregs(sregs);
  vcpu_.set_regs(regs);
  state_ = State::Running;
}

uint64_t VcpuRunner::guest_tsc() const { return host_tsc() + static_cast<uint64_t>(tsc_offset_); }

void VcpuRunner::deliver(const irq::InterruptMessage& message) {
  std::optional<pthread_t> thread;
  {
    std::lock_guard lock(mu_);
    lapic_.deliver(message);
    kicked_ = true;
    thread = thread_;
  }
  cv_.notify_one();
  if (thread) kick_thread(*thread);
}

void VcpuRunner::kick() {
  std::optional<pthread_t> thread;
  {
    std::lock_guard lock(mu_);
    kicked_ = true;
    thread = thread_;
  }
  cv_.notify_one();
  if (thread) kick_thread(*thread);
}

void VcpuRunner::fail(const std::string& what) {
  uint64_t rip = 0;
  try {
    rip = vcpu_.regs().rip;
  } catch (const std::exception&) {
  }
  host_.fail(fmt::format("vCPU {}: {} at RIP {:#x}", index_, what, rip));
}

// A fault while delivering #DF shuts the CPU down (Intel SDM vol. 3, 6.15,
// interrupt 8). KVM on VT-x leaves the vCPU's state as it was. KVM on AMD
// SVM re-initialises the vCPU on a shutdown intercept, as the VMCB is
// undefined after one (AMD APM vol. 2, 15.11), so what is read now is the
// INIT state (Intel SDM vol. 3, 10.1.2; AMD APM vol. 2, 14.1.3): say that
// the RIP is lost rather than name the reset vector.
void VcpuRunner::fail_shutdown() {
  bool reset_state = false;
  try {
    kvm_regs regs = vcpu_.regs();
    kvm_sregs sregs = vcpu_.sregs();
    reset_state = regs.rip == 0xfff0 && sregs.cs.selector == 0xf000 && sregs.cs.base == 0xffff0000 &&
                  (sregs.cr0 & 1) == 0;
  } catch (const std::exception&) {
  }
  if (!reset_state) return fail("triple fault");
  host_.fail(fmt::format("vCPU {}: triple fault (KVM reset the vCPU at the shutdown, as on AMD SVM: its RIP is lost)",
                         index_));
}

void VcpuRunner::run() {
  kvm_run& run = vcpu_.run_state();
  attach_kick_target(&run);
  {
    // The LAPIC timer signals this thread directly (SIGEV_THREAD_ID), so
    // that it leaves KVM_RUN when the timer fires.
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = kKickSignal;
    sev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    if (timer_create(CLOCK_MONOTONIC, &sev, &timer_) != 0) {
      host_.fail(fmt::format("vCPU {}: timer_create: {}", index_, std::strerror(errno)));
      return;
    }
    timer_created_ = true;
    std::lock_guard lock(mu_);
    thread_ = pthread_self();
  }
  try {
    for (;;) {
      run.immediate_exit = 0;
      if (host_.stopping()) break;
      if (!prepare_entry()) continue;
      if (!vcpu_.run()) continue;
      stats_.exits++;
      handle_exit();
    }
  } catch (const std::exception& e) {
    fail(e.what());
  }
  try {
    arm_timer(std::nullopt);
  } catch (const std::exception&) {
    // The timer is deleted with this runner anyway.
  }
  {
    std::lock_guard lock(mu_);
    thread_.reset();
  }
  try {
    final_rip_ = vcpu_.regs().rip;
  } catch (const std::exception&) {
  }
}

bool VcpuRunner::prepare_entry() {
  kvm_run& run = vcpu_.run_state();
  std::unique_lock lock(mu_);
  kicked_ = false;
  if (lapic_.take_init()) {
    reset_for_init();
    state_ = State::WaitForSipi;
    halted_ = false;
  }
  if (state_ == State::WaitForSipi) {
    auto vector = lapic_.take_sipi();
    if (!vector) {
      wait(lock, std::nullopt);
      return false;
    }
    kvm_sregs sregs = vcpu_.sregs();
    kvm_regs regs = vcpu_.regs();
    set_startup_state(sregs, regs, *vector);
    vcpu_.set_sregs(sregs);
    vcpu_.set_regs(regs);
    state_ = State::Running;
  }

  lapic_.advance_time(monotonic_ns(), guest_tsc());
  if (lapic_.take_nmi()) {
    vcpu_.nmi();
    halted_ = false;
  }
  auto pending = lapic_.pending_vector();
  if (halted_) {
    // HLT ends on an interrupt the CPU can take (IF=1), NMI or INIT (SDM
    // vol. 2A, HLT); the last two were handled above.
    if (pending && run.if_flag) {
      halted_ = false;
    } else {
      wait(lock, lapic_.next_timer_deadline_ns());
      return false;
    }
  }
  if (pending) {
    if (run.ready_for_interrupt_injection && run.if_flag) {
      vcpu_.interrupt(*pending);
      lapic_.acknowledge(*pending);
      stats_.interrupts_injected++;
      run.request_interrupt_window = 0;
    } else {
      run.request_interrupt_window = 1;
    }
  } else {
    run.request_interrupt_window = 0;
  }
  arm_timer(lapic_.next_timer_deadline_ns());
  return true;
}

void VcpuRunner::wait(std::unique_lock<std::mutex>& lock, std::optional<uint64_t> deadline_ns) {
  auto woken = [this] { return kicked_ || host_.stopping(); };
  if (!deadline_ns) {
    cv_.wait(lock, woken);
    return;
  }
  uint64_t now = monotonic_ns();
  if (*deadline_ns <= now) return;
  cv_.wait_for(lock, std::chrono::nanoseconds(*deadline_ns - now), woken);
}

void VcpuRunner::arm_timer(std::optional<uint64_t> deadline_ns) {
  if (!timer_created_ || deadline_ns == armed_deadline_) return;
  itimerspec spec{};
  if (deadline_ns) {
    // An absolute time of zero would disarm the timer.
    uint64_t at = std::max<uint64_t>(*deadline_ns, 1);
    spec.it_value.tv_sec = static_cast<time_t>(at / 1'000'000'000ull);
    spec.it_value.tv_nsec = static_cast<long>(at % 1'000'000'000ull);
  }
  if (timer_settime(timer_, TIMER_ABSTIME, &spec, nullptr) != 0) throw SystemError("timer_settime", errno);
  armed_deadline_ = deadline_ns;
}

void VcpuRunner::reset_for_init() {
  // INIT (SDM vol. 3 table 9-1): the power-on register state, LAPIC reset
  // with its ID kept.
  vcpu_.set_regs(reset_regs_);
  vcpu_.set_sregs(reset_sregs_);
  vcpu_.set_fpu(reset_fpu_);
  lapic_.reset();
}

void VcpuRunner::handle_exit() {
  kvm_run& run = vcpu_.run_state();
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      handle_io();
      break;
    case KVM_EXIT_MMIO:
      handle_mmio();
      break;
    case KVM_EXIT_HLT:
      stats_.halts++;
      halted_ = true;
      break;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_INTR:
      break;
    case KVM_EXIT_X86_RDMSR:
      handle_msr(false);
      break;
    case KVM_EXIT_X86_WRMSR:
      handle_msr(true);
      break;
    case KVM_EXIT_SHUTDOWN:
      fail_shutdown();
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      fail(fmt::format("{} (KVM internal error suberror {}{})", internal_error_name(run.internal.suberror),
                       run.internal.suberror, failed_instruction(run)));
      break;
    case KVM_EXIT_FAIL_ENTRY:
      fail(fmt::format("VM entry failed (hardware reason {:#x})",
                       run.fail_entry.hardware_entry_failure_reason));
      break;
    default:
      fail(fmt::format("unexpected KVM exit reason {}", run.exit_reason));
      break;
  }
}

void VcpuRunner::handle_io() {
  stats_.io_exits++;
  kvm_run& run = vcpu_.run_state();
  auto* base = reinterpret_cast<uint8_t*>(&run) + run.io.data_offset;
  for (uint32_t i = 0; i < run.io.count; ++i) {
    std::span<uint8_t> data(base + size_t{i} * run.io.size, run.io.size);
    if (run.io.direction == KVM_EXIT_IO_OUT)
      host_.port_write(run.io.port, data);
    else
      host_.port_read(run.io.port, data);
  }
}

void VcpuRunner::handle_mmio() {
  stats_.mmio_exits++;
  kvm_run& run = vcpu_.run_state();
  uint64_t gpa = run.mmio.phys_addr;
  std::span<uint8_t> data(run.mmio.data, std::min<uint32_t>(run.mmio.len, sizeof(run.mmio.data)));
  if (gpa >= memory::kLapicBase && gpa - memory::kLapicBase < kLapicPageSize) {
    handle_lapic_access(gpa - memory::kLapicBase, data, run.mmio.is_write);
  } else if (run.mmio.is_write) {
    host_.mmio_write(gpa, data);
  } else {
    host_.mmio_read(gpa, data);
  }
}

void VcpuRunner::handle_lapic_access(uint64_t offset, std::span<uint8_t> data, bool is_write) {
  stats_.lapic_accesses++;
  // LAPIC registers are 32 bits wide at 16-byte aligned offsets (SDM vol. 3
  // 11.4.1); narrower accesses see the containing register.
  uint32_t reg = static_cast<uint32_t>(offset & ~uint64_t{0xF});
  uint32_t shift = static_cast<uint32_t>(offset & 0x3) * 8;
  if (!is_write) {
    uint32_t value;
    {
      std::lock_guard lock(mu_);
      value = lapic_.read(reg, monotonic_ns());
    }
    // Bytes past the 32-bit register (an 8-byte read, or one at offset 1 to
    // 3 that runs over) read 0.
    for (size_t i = 0; i < data.size(); ++i) {
      uint32_t bit = shift + 8 * static_cast<uint32_t>(i);
      data[i] = bit < 32 ? static_cast<uint8_t>(value >> bit) : 0;
    }
    return;
  }
  uint32_t value = 0;
  for (size_t i = 0; i < data.size() && i < 4; ++i) value |= uint32_t{data[i]} << (8 * i);
  std::optional<irq::InterruptMessage> message;
  std::optional<uint8_t> eoi;
  {
    std::lock_guard lock(mu_);
    message = lapic_.write(reg, value << shift, monotonic_ns());
    eoi = lapic_.take_level_eoi();
  }
  if (message) {
    stats_.ipis_sent++;
    host_.send_interrupt(*message, index_);
  }
  if (eoi) host_.level_eoi(*eoi);
}

void VcpuRunner::handle_msr(bool is_write) {
  kvm_run& run = vcpu_.run_state();
  std::lock_guard lock(mu_);
  run.msr.error = 0;
  switch (run.msr.index) {
    case kMsrApicBase:
      if (is_write) {
        if (!lapic_.set_apic_base_msr(run.msr.data)) run.msr.error = 1;  // #GP (x2APIC, reserved bits)
      } else
        run.msr.data = lapic_.apic_base_msr();
      break;
    case kMsrTscDeadline:
      if (is_write)
        lapic_.set_tsc_deadline_msr(run.msr.data, monotonic_ns(), guest_tsc());
      else
        run.msr.data = lapic_.tsc_deadline_msr();
      break;
    default:
      run.msr.error = 1;  // #GP, as for an MSR that does not exist
      break;
  }
}

}  // namespace amalgam::vcpu
