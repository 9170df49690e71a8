// A local APIC in xAPIC mode (Intel SDM vol. 3 ch. 11), as a pure state
// machine: time comes in as arguments, interrupt messages go out as return
// values, and the caller serialises access (it holds the vCPU's lock).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "irq/interrupt_message.hpp"
#include "irq/lapic_timer.hpp"

namespace amalgam::irq {

// Register offsets in the 4 KiB APIC page (SDM table 11-1).
namespace reg {
inline constexpr uint32_t kId = 0x20, kVersion = 0x30, kTpr = 0x80, kApr = 0x90, kPpr = 0xA0, kEoi = 0xB0,
                          kRrd = 0xC0, kLdr = 0xD0, kDfr = 0xE0, kSvr = 0xF0, kIsr = 0x100, kTmr = 0x180,
                          kIrr = 0x200, kEsr = 0x280, kLvtCmci = 0x2F0, kIcrLow = 0x300, kIcrHigh = 0x310,
                          kLvtTimer = 0x320, kLvtThermal = 0x330, kLvtPerf = 0x340, kLvtLint0 = 0x350,
                          kLvtLint1 = 0x360, kLvtError = 0x370, kTimerInitial = 0x380, kTimerCurrent = 0x390,
                          kTimerDivide = 0x3E0;
}  // namespace reg

inline constexpr uint64_t kApicBaseDefault = 0xFEE0'0000;
inline constexpr uint64_t kApicBaseBsp = 1u << 8, kApicBaseX2apic = 1u << 10, kApicBaseEnable = 1u << 11;
inline constexpr uint32_t kLvtMasked = 1u << 16;
inline constexpr uint32_t kSvrEnable = 1u << 8;
inline constexpr uint32_t kEsrSendIllegalVector = 1u << 5, kEsrReceiveIllegalVector = 1u << 6,
                          kEsrIllegalRegister = 1u << 7;

class Lapic {
 public:
  Lapic(uint32_t apic_id, bool bsp, uint64_t timer_hz, uint64_t tsc_hz);

  uint32_t read(uint32_t offset, uint64_t now_ns);
  // An ICR-low write returns the IPI for the caller to route.
  std::optional<InterruptMessage> write(uint32_t offset, uint32_t value, uint64_t now_ns);

  uint64_t apic_base_msr() const { return apic_base_; }
  // x2APIC is not offered (CPUID hides it): setting its enable bit is ignored.
  void set_apic_base_msr(uint64_t value);
  uint64_t tsc_deadline_msr() const { return timer_.tsc_deadline(); }
  void set_tsc_deadline_msr(uint64_t deadline_tsc, uint64_t now_ns, uint64_t now_tsc);

  void deliver(const InterruptMessage& m);

  std::optional<uint8_t> pending_vector() const;
  void acknowledge(uint8_t vector);
  bool take_nmi();
  bool take_init();
  std::optional<uint8_t> take_sipi();
  bool has_wake_event() const;
  bool has_nmi_init_or_sipi() const { return nmi_ || init_ || sipi_; }

  void advance_time(uint64_t now_ns, uint64_t now_tsc);
  std::optional<uint64_t> next_timer_deadline_ns() const;
  std::optional<uint8_t> take_level_eoi();

  uint32_t id() const { return id_; }
  uint8_t tpr() const { return static_cast<uint8_t>(tpr_); }
  uint32_t ppr() const;
  bool software_enabled() const { return svr_ & kSvrEnable; }
  bool hardware_enabled() const { return apic_base_ & kApicBaseEnable; }
  bool matches_physical(uint32_t destination) const;
  bool matches_logical(uint8_t destination) const;
  void reset();

 private:
  using Bitmap = std::array<uint32_t, 8>;  // 256 vectors
  static bool test(const Bitmap& b, uint8_t v) { return b[v / 32] & (1u << (v % 32)); }
  static void set(Bitmap& b, uint8_t v, bool on);
  static std::optional<uint8_t> highest(const Bitmap& b);

  uint32_t& lvt(uint32_t offset);
  void write_lvt(uint32_t offset, uint32_t value);
  void eoi();
  void raise_error(uint32_t bits);
  void accept_vector(uint8_t vector, bool level);
  InterruptMessage icr_message() const;

  uint32_t id_;
  uint64_t apic_base_;
  uint32_t tpr_ = 0, ldr_ = 0, dfr_ = 0xFFFF'FFFF, svr_ = 0xFF;
  uint32_t esr_ = 0, esr_pending_ = 0;
  uint32_t icr_low_ = 0, icr_high_ = 0;
  uint32_t lvt_timer_ = kLvtMasked, lvt_thermal_ = kLvtMasked, lvt_perf_ = kLvtMasked, lvt_lint0_ = kLvtMasked,
           lvt_lint1_ = kLvtMasked, lvt_error_ = kLvtMasked, lvt_cmci_ = kLvtMasked;
  Bitmap irr_{}, isr_{}, tmr_{};
  bool nmi_ = false, init_ = false;
  std::optional<uint8_t> sipi_;
  std::optional<uint8_t> level_eoi_;
  LapicTimer timer_;
};

}  // namespace amalgam::irq
