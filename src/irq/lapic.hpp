// One emulated local APIC in xAPIC mode (Intel SDM vol. 3 ch. 11).
//
// A pure state machine: time is passed in, nothing here blocks, sleeps or
// talks to KVM. Not thread-safe: the caller holds the vCPU's lock.
//
// Interrupts flow in through deliver() (from the router) or from the local
// sources (timer, LINT0/1, error) and are taken by the vCPU loop with
// pending_vector()/acknowledge() and the take_*() calls. IPIs written to the
// ICR come back from write() for the caller to route; EOIs of level-triggered
// vectors are queued for the caller to pass to the IOAPIC (take_level_eoi()).
//
// Where the SDM leaves a choice:
// - Fixed and lowest-priority interrupts that arrive while the APIC is
//   software-disabled are dropped (as KVM does); NMI, INIT and SIPI are not.
// - SMIs are dropped (no SMM). A level de-assert message (level-triggered,
//   level 0: INIT level de-assert) does nothing and an ICR write of one sends
//   nothing (SDM 11.6.1: not supported since the Pentium 4).
// - An ICR write with an illegal vector (0-15, fixed or lowest priority) or a
//   reserved delivery mode sends nothing; the former sets ESR bit 5.
// - Accesses to offsets that hold no register (including offsets not a
//   multiple of 16) read 0, are ignored when written and set ESR bit 7.
// - While the APIC is globally disabled (IA32_APIC_BASE bit 11 clear) it
//   accepts nothing, reads 0 and ignores writes; clearing the bit returns
//   the registers to their power-up state (SDM 11.4.3 allows this).
// - A periodic timer whose vCPU did not run for several periods does not
//   merge the ticks it missed into one, as one IRR bit would (and KVM's own
//   LAPIC does): it delivers them one after another, each once the one
//   before has left IRR, like QEMU's lost-tick policy "delay" for the PIT
//   and RTC. A guest that counts ticks then keeps time while its vCPU waits
//   for the host (a busy host, a page from another node). At most
//   kMaxTimerCatchUpNs of ticks wait; writing the initial count or the LVT
//   timer entry, masking it or disabling the APIC drops them.
// - LINT0/1 take the line as asserted/not asserted; the polarity bit is kept
//   for the guest to read but not applied, as the device that drives the
//   line reports assertion.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "irq/lapic_regs.hpp"
#include "irq/lapic_timer.hpp"
#include "irq/message.hpp"
#include "irq/vector_set.hpp"

namespace amalgam::irq {

// The local vector table, in register order (0x320 + 0x10 * index).
enum class Lvt : uint8_t { Timer, Thermal, Perf, Lint0, Lint1, Error };
inline constexpr unsigned kLvtCount = 6;

// The most missed periodic ticks a LAPIC keeps for late delivery, in time:
// a vCPU stopped longer (a node stopped by SIGSTOP) loses the rest rather
// than take a storm of interrupts when it comes back.
inline constexpr uint64_t kMaxTimerCatchUpNs = 1'000'000'000;

class Lapic {
 public:
  // apic_id: this CPU's ID (xAPIC: 0..254); bsp: sets IA32_APIC_BASE.BSP;
  // timer_hz: LAPIC timer input clock before the divider; tsc_hz for the
  // TSC-deadline mode. Throws std::invalid_argument on a zero frequency.
  Lapic(uint32_t apic_id, bool bsp, uint64_t timer_hz, uint64_t tsc_hz);

  // 32-bit MMIO access at offset (0..0xFF0) of the LAPIC page. A write of ICR
  // low returns the IPI for the caller to route (delivery status reads 0:
  // delivery is immediate).
  uint32_t read(uint32_t offset, uint64_t now_ns);
  std::optional<InterruptMessage> write(uint32_t offset, uint32_t value, uint64_t now_ns);

  // IA32_APIC_BASE. Returns false, changing nothing, for a value the guest
  // must get #GP for: x2APIC enable (not offered), reserved bits 0-7 and 9,
  // or address bits above 51. The BSP bit is read-only. A new base address
  // is kept and returned; the caller decides where the page is decoded.
  uint64_t apic_base_msr() const { return apic_base_; }
  bool set_apic_base_msr(uint64_t value);
  // IA32_TSC_DEADLINE (SDM 11.5.4.1): reads 0 and ignores writes unless the
  // LVT timer is in TSC-deadline mode.
  uint64_t tsc_deadline_msr() const { return timer_.tsc_deadline(); }
  void set_tsc_deadline_msr(uint64_t deadline_tsc, uint64_t now_ns, uint64_t now_tsc);

  // Delivery into this LAPIC: fixed/lowest -> IRR (+TMR if level); NMI,
  // INIT, SIPI and ExtINT latched. An INIT drops a SIPI latched before it.
  void deliver(const InterruptMessage& m);
  // Drives LINT0 (pin 0) or LINT1 (pin 1) as its LVT entry says: edge
  // entries fire on assertion, level-triggered fixed entries while asserted
  // and their Remote IRR is clear (SDM 11.5.1).
  void set_lint(unsigned pin, bool asserted);

  // Injection side, used by the vCPU loop (SDM 11.8.3 / 11.8.4).
  // The highest IRR vector whose priority class is above PPR's, if the APIC
  // is enabled.
  std::optional<uint8_t> pending_vector() const;
  void acknowledge(uint8_t vector);  // IRR -> ISR
  bool take_nmi();
  bool take_init();
  std::optional<uint8_t> take_sipi();
  bool take_extint();  // the caller asks the 8259 for the vector
  // Anything that ends HLT: a deliverable vector, NMI, INIT, SIPI, ExtINT.
  bool has_wake_event() const;

  // Timer (SDM 11.5.4): advance to now, setting the LVT timer vector in IRR
  // when due (or a missed periodic tick, once that vector has left IRR);
  // next_timer_deadline_ns() says when to call it next, if armed.
  void advance_time(uint64_t now_ns, uint64_t now_tsc);
  std::optional<uint64_t> next_timer_deadline_ns() const { return timer_.next_deadline_ns(); }

  // Vectors whose EOI found their TMR bit set, for the IOAPIC; one per call.
  std::optional<uint8_t> take_level_eoi();

  uint32_t id() const { return id_; }
  // INIT (SDM 11.4.7.3): registers back to power-up state except the APIC
  // ID; IA32_APIC_BASE (BSP flag included) is unchanged, as INIT leaves MSRs.
  // Latched INIT and SIPI survive (a SIPI may already wait for the CPU that
  // is handling the INIT); a latched NMI or ExtINT is dropped.
  void reset();

  // Destination matching for the router (SDM 11.6.2). 0xFF is a broadcast.
  bool matches_logical(uint8_t destination) const;
  bool matches_physical(uint32_t destination) const;

  // State the router and tests look at.
  bool hardware_enabled() const { return (apic_base_ & reg::kApicBaseEnable) != 0; }
  bool software_enabled() const { return (svr_ & reg::kSvrSoftwareEnable) != 0; }
  uint8_t tpr() const { return static_cast<uint8_t>(tpr_); }
  uint8_t ppr() const;
  uint32_t lvt(Lvt which) const { return lvt_[static_cast<unsigned>(which)]; }
  // Periodic ticks missed and not delivered yet.
  uint64_t timer_backlog() const { return timer_backlog_; }
  // Lowest-priority focus (SDM 11.6.2.4): focus checking is on and the
  // vector is already pending or in service here.
  bool is_focus_for(uint8_t vector) const;

 private:
  void reset_registers();
  uint32_t& lvt_ref(Lvt which) { return lvt_[static_cast<unsigned>(which)]; }
  void write_svr(uint32_t value);
  void write_lvt(unsigned index, uint32_t value);
  std::optional<InterruptMessage> write_icr(uint32_t low);
  void eoi();
  void accept(uint8_t vector, bool level);
  void raise_error(uint32_t esr_bit);
  void fire_lvt(Lvt which);
  void service_lint(unsigned pin);
  static bool is_level_fixed(uint32_t lvt);

  uint32_t id_;
  uint64_t apic_base_;
  LapicTimer timer_;
  uint32_t tpr_ = 0;
  uint32_t ldr_ = 0;
  uint32_t dfr_ = 0;
  uint32_t svr_ = 0;
  uint32_t esr_ = 0;          // what reads return
  uint32_t esr_pending_ = 0;  // errors since the last ESR write
  uint32_t icr_low_ = 0;
  uint32_t icr_high_ = 0;
  std::array<uint32_t, kLvtCount> lvt_{};
  uint64_t timer_backlog_ = 0;  // missed periodic ticks still to deliver
  VectorSet irr_, isr_, tmr_, level_eois_;
  std::array<bool, 2> lint_asserted_{};
  bool nmi_ = false;
  bool init_ = false;
  bool extint_ = false;
  std::optional<uint8_t> sipi_;
};

}  // namespace amalgam::irq
