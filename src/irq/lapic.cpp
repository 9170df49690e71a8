#include "irq/lapic.hpp"

#include <utility>

namespace amalgam::irq {

namespace {
constexpr uint32_t kVersion = 0x0005'0014;  // version 0x14, 6 LVT entries (max index 5)
constexpr uint32_t kLvtDeliveryModeMask = 0x700;
constexpr uint32_t kLvtTimerModeShift = 17;
constexpr uint8_t kFirstLegalVector = 16;  // 0-15 are reserved (SDM 11.5.2)

DeliveryMode icr_mode(uint32_t low) { return static_cast<DeliveryMode>((low >> 8) & 7); }
}  // namespace

Lapic::Lapic(uint32_t apic_id, bool bsp, uint64_t timer_hz, uint64_t tsc_hz)
    : id_(apic_id),
      apic_base_(kApicBaseDefault | kApicBaseEnable | (bsp ? kApicBaseBsp : 0)),
      timer_(timer_hz, tsc_hz) {}

void Lapic::reset() {
  // SDM 11.4.7.3: INIT resets everything but the APIC ID (and the BSP flag
  // and base in IA32_APIC_BASE). A STARTUP latched after the INIT stays.
  tpr_ = ldr_ = 0;
  dfr_ = 0xFFFF'FFFF;
  svr_ = 0xFF;
  esr_ = esr_pending_ = 0;
  icr_low_ = icr_high_ = 0;
  lvt_timer_ = lvt_thermal_ = lvt_perf_ = lvt_lint0_ = lvt_lint1_ = lvt_error_ = lvt_cmci_ = kLvtMasked;
  irr_ = {};
  isr_ = {};
  tmr_ = {};
  nmi_ = false;
  level_eoi_.reset();
  timer_.reset();
}

void Lapic::set(Bitmap& b, uint8_t v, bool on) {
  if (on)
    b[v / 32] |= 1u << (v % 32);
  else
    b[v / 32] &= ~(1u << (v % 32));
}

std::optional<uint8_t> Lapic::highest(const Bitmap& b) {
  for (int i = 7; i >= 0; --i)
    if (b[i]) return static_cast<uint8_t>(i * 32 + 31 - __builtin_clz(b[i]));
  return std::nullopt;
}

uint32_t Lapic::ppr() const {
  // SDM 11.8.3.1: PPR = TPR when TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0.
  uint32_t isrv = highest(isr_).value_or(0);
  return (tpr_ & 0xF0) >= (isrv & 0xF0) ? tpr_ & 0xFF : isrv & 0xF0;
}

uint32_t& Lapic::lvt(uint32_t offset) {
  switch (offset) {
    case reg::kLvtTimer: return lvt_timer_;
    case reg::kLvtThermal: return lvt_thermal_;
    case reg::kLvtPerf: return lvt_perf_;
    case reg::kLvtLint0: return lvt_lint0_;
    case reg::kLvtLint1: return lvt_lint1_;
    case reg::kLvtError: return lvt_error_;
    default: return lvt_cmci_;
  }
}

uint32_t Lapic::read(uint32_t offset, uint64_t now_ns) {
  if (offset >= reg::kIsr && offset < reg::kIsr + 0x80) return isr_[(offset - reg::kIsr) / 16];
  if (offset >= reg::kTmr && offset < reg::kTmr + 0x80) return tmr_[(offset - reg::kTmr) / 16];
  if (offset >= reg::kIrr && offset < reg::kIrr + 0x80) return irr_[(offset - reg::kIrr) / 16];
  switch (offset) {
    case reg::kId: return id_ << 24;
    case reg::kVersion: return kVersion;
    case reg::kTpr: return tpr_;
    case reg::kApr: return 0;
    case reg::kPpr: return ppr();
    case reg::kEoi: return 0;
    case reg::kRrd: return 0;
    case reg::kLdr: return ldr_;
    case reg::kDfr: return dfr_;
    case reg::kSvr: return svr_;
    case reg::kEsr: return esr_;
    case reg::kIcrLow: return icr_low_ & ~(1u << 12);  // delivery is immediate: never "send pending"
    case reg::kIcrHigh: return icr_high_;
    case reg::kLvtTimer:
    case reg::kLvtThermal:
    case reg::kLvtPerf:
    case reg::kLvtLint0:
    case reg::kLvtLint1:
    case reg::kLvtError:
    case reg::kLvtCmci: return lvt(offset);
    case reg::kTimerInitial: return timer_.initial_count();
    case reg::kTimerCurrent: return timer_.current_count(now_ns);
    case reg::kTimerDivide: return timer_.divide_config();
    default: return 0;
  }
}

std::optional<InterruptMessage> Lapic::write(uint32_t offset, uint32_t value, uint64_t now_ns) {
  switch (offset) {
    case reg::kId: id_ = value >> 24; break;
    case reg::kTpr: tpr_ = value & 0xFF; break;
    case reg::kEoi: eoi(); break;
    case reg::kLdr: ldr_ = value & 0xFF00'0000; break;
    case reg::kDfr: dfr_ = value | 0x0FFF'FFFF; break;
    case reg::kSvr:
      svr_ = value & 0x13FF;
      if (!software_enabled()) {
        // SDM 11.4.7.2: a software-disabled APIC masks every LVT entry.
        for (uint32_t r : {reg::kLvtTimer, reg::kLvtThermal, reg::kLvtPerf, reg::kLvtLint0, reg::kLvtLint1,
                           reg::kLvtError, reg::kLvtCmci})
          lvt(r) |= kLvtMasked;
      }
      break;
    case reg::kEsr:
      // Write-then-read: a write latches the errors seen since the last one.
      esr_ = esr_pending_;
      esr_pending_ = 0;
      break;
    case reg::kIcrHigh: icr_high_ = value & 0xFF00'0000; break;
    case reg::kIcrLow: {
      icr_low_ = value & 0x000C'CFFF;
      InterruptMessage m = icr_message();
      if ((m.mode == DeliveryMode::Fixed || m.mode == DeliveryMode::LowestPriority) &&
          m.vector < kFirstLegalVector) {
        raise_error(kEsrSendIllegalVector);
        return std::nullopt;
      }
      return m;
    }
    case reg::kLvtTimer:
    case reg::kLvtThermal:
    case reg::kLvtPerf:
    case reg::kLvtLint0:
    case reg::kLvtLint1:
    case reg::kLvtError:
    case reg::kLvtCmci: write_lvt(offset, value); break;
    case reg::kTimerInitial: timer_.set_initial_count(value, now_ns); break;
    case reg::kTimerDivide: timer_.set_divide_config(value, now_ns); break;
    default:
      if (offset != reg::kVersion && offset != reg::kPpr && offset != reg::kApr && offset != reg::kRrd &&
          offset != reg::kTimerCurrent && !(offset >= reg::kIsr && offset < reg::kIrr + 0x80))
        raise_error(kEsrIllegalRegister);
      break;
  }
  return std::nullopt;
}

void Lapic::write_lvt(uint32_t offset, uint32_t value) {
  uint32_t writable = 0x0001'00FF | kLvtDeliveryModeMask;  // vector, delivery mode, mask
  if (offset == reg::kLvtTimer) writable = 0x0007'00FF;   // vector, mask, timer mode
  if (offset == reg::kLvtLint0 || offset == reg::kLvtLint1) writable |= 0xA000;  // polarity, trigger
  if (offset == reg::kLvtError) writable = 0x0001'00FF;
  value &= writable;
  if (!software_enabled()) value |= kLvtMasked;
  lvt(offset) = value;
  if (offset == reg::kLvtTimer) {
    uint32_t mode = (value >> kLvtTimerModeShift) & 3;
    timer_.set_mode(mode == 2 ? LapicTimer::Mode::TscDeadline
                              : mode == 1 ? LapicTimer::Mode::Periodic : LapicTimer::Mode::OneShot);
  }
}

InterruptMessage Lapic::icr_message() const {
  InterruptMessage m;
  m.vector = static_cast<uint8_t>(icr_low_ & 0xFF);
  m.mode = icr_mode(icr_low_);
  m.logical_destination = icr_low_ & (1u << 11);
  m.assert_level = icr_low_ & (1u << 14);
  m.level_triggered = icr_low_ & (1u << 15);
  m.shorthand = static_cast<Shorthand>((icr_low_ >> 18) & 3);
  m.destination = icr_high_ >> 24;
  m.source_apic_id = id_;
  return m;
}

void Lapic::raise_error(uint32_t bits) {
  esr_pending_ |= bits;
  if (!(lvt_error_ & kLvtMasked)) accept_vector(static_cast<uint8_t>(lvt_error_ & 0xFF), false);
}

void Lapic::accept_vector(uint8_t vector, bool level) {
  if (vector < kFirstLegalVector) {
    esr_pending_ |= kEsrReceiveIllegalVector;
    return;
  }
  set(irr_, vector, true);
  set(tmr_, vector, level);
}

void Lapic::deliver(const InterruptMessage& m) {
  switch (m.mode) {
    case DeliveryMode::Fixed:
    case DeliveryMode::LowestPriority:
      if (m.vector < kFirstLegalVector) {
        raise_error(kEsrReceiveIllegalVector);
        return;
      }
      accept_vector(m.vector, m.level_triggered);
      break;
    case DeliveryMode::Nmi:
      nmi_ = true;
      break;
    case DeliveryMode::Init:
      // INIT level de-assert (level-triggered, level 0) only resynchronises
      // arbitration IDs (SDM 10.6.1 of older editions): no effect here.
      if (m.level_triggered && !m.assert_level) return;
      init_ = true;
      sipi_.reset();  // a STARTUP sent before this INIT is stale
      break;
    case DeliveryMode::StartUp:
      sipi_ = m.vector;
      break;
    case DeliveryMode::Smi:
    case DeliveryMode::ExtInt:
      break;  // no SMM, no 8259 behind LINT0
  }
}

std::optional<uint8_t> Lapic::pending_vector() const {
  if (!software_enabled() || !hardware_enabled()) return std::nullopt;
  auto v = highest(irr_);
  if (!v || (*v & 0xF0) <= (ppr() & 0xF0)) return std::nullopt;
  return v;
}

void Lapic::acknowledge(uint8_t vector) {
  // SDM 11.8.4: the CPU takes the vector: IRR bit to ISR.
  set(irr_, vector, false);
  set(isr_, vector, true);
}

void Lapic::eoi() {
  auto v = highest(isr_);
  if (!v) return;
  set(isr_, *v, false);
  if (test(tmr_, *v)) level_eoi_ = *v;  // a level-triggered interrupt: tell the IOAPIC
}

bool Lapic::take_nmi() { return std::exchange(nmi_, false); }
bool Lapic::take_init() { return std::exchange(init_, false); }
std::optional<uint8_t> Lapic::take_sipi() { return std::exchange(sipi_, std::nullopt); }
std::optional<uint8_t> Lapic::take_level_eoi() { return std::exchange(level_eoi_, std::nullopt); }

bool Lapic::has_wake_event() const { return pending_vector().has_value() || nmi_ || init_ || sipi_; }

void Lapic::set_apic_base_msr(uint64_t value) {
  // The base stays at 0xFEE00000: moving the page is not supported (nor used
  // by today's OSes); x2APIC enable is ignored since CPUID does not offer it.
  apic_base_ = (apic_base_ & ~kApicBaseEnable) | (value & kApicBaseEnable);
}

void Lapic::set_tsc_deadline_msr(uint64_t deadline_tsc, uint64_t now_ns, uint64_t now_tsc) {
  timer_.set_tsc_deadline(deadline_tsc, now_ns, now_tsc);
}

void Lapic::advance_time(uint64_t now_ns, uint64_t /*now_tsc*/) {
  if (timer_.expire(now_ns) && !(lvt_timer_ & kLvtMasked))
    accept_vector(static_cast<uint8_t>(lvt_timer_ & 0xFF), false);
}

std::optional<uint64_t> Lapic::next_timer_deadline_ns() const {
  // A masked periodic timer needs no wake-ups: current count is computed on read.
  if (lvt_timer_ & kLvtMasked) return std::nullopt;
  return timer_.deadline_ns();
}

bool Lapic::matches_physical(uint32_t destination) const {
  return destination == kBroadcastDestination || destination == id_;
}

bool Lapic::matches_logical(uint8_t destination) const {
  // SDM 11.6.2.2: flat model (DFR 1111b): any common bit with LDR[31:24];
  // cluster model (DFR 0000b): same cluster (high nibble), common bit below.
  if (destination == kBroadcastDestination) return true;
  uint8_t logical_id = static_cast<uint8_t>(ldr_ >> 24);
  bool flat = (dfr_ >> 28) == 0xF;
  if (flat) return (destination & logical_id) != 0;
  return (destination >> 4) == (logical_id >> 4) && (destination & logical_id & 0xF) != 0;
}

}  // namespace amalgam::irq
