// Lapic: interrupt acceptance, priorities and the injection side.
// Register access is in lapic_mmio.cpp.
#include "irq/lapic.hpp"

#include <algorithm>
#include <utility>

namespace amalgam::irq {

namespace {

constexpr uint8_t kFirstLegalVector = 16;  // 0-15 are illegal (SDM 11.5.3)

uint8_t priority_class(uint32_t v) { return static_cast<uint8_t>((v >> 4) & 0xF); }

bool is_masked(uint32_t lvt) { return (lvt & reg::kLvtMasked) != 0; }

}  // namespace

Lapic::Lapic(uint32_t apic_id, bool bsp, uint64_t timer_hz, uint64_t tsc_hz)
    : id_(apic_id),
      apic_base_(reg::kApicBaseDefault | reg::kApicBaseEnable | (bsp ? reg::kApicBaseBsp : 0)),
      timer_(timer_hz, tsc_hz) {
  reset_registers();
}

// Power-up values (SDM 11.4.7.1): all zero but DFR (all ones), SVR (0xFF)
// and the LVT entries (masked).
void Lapic::reset_registers() {
  timer_.reset();
  tpr_ = ldr_ = esr_ = esr_pending_ = icr_low_ = icr_high_ = 0;
  dfr_ = 0xFFFF'FFFF;
  svr_ = 0xFF;
  lvt_.fill(reg::kLvtMasked);
  timer_backlog_ = 0;
  irr_.clear_all();
  isr_.clear_all();
  tmr_.clear_all();
  level_eois_.clear_all();
  nmi_ = extint_ = false;
}

void Lapic::reset() { reset_registers(); }

bool Lapic::set_apic_base_msr(uint64_t value) {
  constexpr uint64_t kWritable = reg::kApicBaseEnable | reg::kApicBaseAddressMask;
  if ((value & ~(kWritable | reg::kApicBaseBsp)) != 0) return false;
  bool was_enabled = hardware_enabled();
  apic_base_ = (value & kWritable) | (apic_base_ & reg::kApicBaseBsp);
  if (was_enabled && !hardware_enabled()) reset_registers();
  return true;
}

void Lapic::set_tsc_deadline_msr(uint64_t deadline_tsc, uint64_t now_ns, uint64_t now_tsc) {
  timer_.set_tsc_deadline(deadline_tsc, now_ns, now_tsc);
}

uint8_t Lapic::ppr() const {
  // SDM 11.8.3.1: TPR if its class is at least the highest in-service
  // class, otherwise that class with sub-class 0.
  uint8_t isrv = isr_.highest().value_or(0);
  if (priority_class(tpr_) >= priority_class(isrv)) return tpr();
  return isrv & 0xF0;
}

bool Lapic::is_focus_for(uint8_t vector) const {
  return (svr_ & reg::kSvrFocusDisable) == 0 && (irr_.test(vector) || isr_.test(vector));
}

void Lapic::raise_error(uint32_t esr_bit) {
  esr_pending_ |= esr_bit;
  uint32_t lvt = lvt_ref(Lvt::Error);
  // An illegal error vector only records itself, so errors cannot recurse.
  if (is_masked(lvt)) return;
  if ((lvt & kVectorMask) < kFirstLegalVector) {
    esr_pending_ |= reg::kEsrReceiveIllegalVector;
    return;
  }
  accept(static_cast<uint8_t>(lvt & kVectorMask), false);
}

void Lapic::accept(uint8_t vector, bool level) {
  if (vector < kFirstLegalVector) {
    raise_error(reg::kEsrReceiveIllegalVector);  // never set in IRR
    return;
  }
  irr_.set(vector);
  tmr_.assign(vector, level);
}

void Lapic::deliver(const InterruptMessage& m) {
  if (!hardware_enabled() || (m.level_triggered && !m.assert_level)) return;
  switch (m.mode) {
    case DeliveryMode::Fixed:
    case DeliveryMode::LowestPriority:
      if (software_enabled()) accept(m.vector, m.level_triggered);
      break;
    case DeliveryMode::Nmi:
      nmi_ = true;
      break;
    case DeliveryMode::Init:
      init_ = true;
      sipi_.reset();
      break;
    case DeliveryMode::StartUp:
      sipi_ = m.vector;
      break;
    case DeliveryMode::ExtInt:
      extint_ = true;
      break;
    case DeliveryMode::Smi:
      break;
  }
}

// A local source fires through its LVT entry (SDM 11.5.1). Timer, thermal,
// perf and error entries only have fixed delivery bits that matter here.
void Lapic::fire_lvt(Lvt which) {
  uint32_t lvt = lvt_ref(which);
  if (is_masked(lvt)) return;
  deliver(InterruptMessage{.mode = static_cast<DeliveryMode>((lvt & kDeliveryModeMask) >> kDeliveryModeShift),
                           .vector = static_cast<uint8_t>(lvt & kVectorMask),
                           .level_triggered = (lvt & kLevelTriggered) != 0,
                           .source_apic_id = id_});
}

void Lapic::set_lint(unsigned pin, bool asserted) {
  if (pin > 1) return;
  bool rising = asserted && !lint_asserted_[pin];
  lint_asserted_[pin] = asserted;
  if (rising || is_level_fixed(lvt_[static_cast<unsigned>(Lvt::Lint0) + pin])) service_lint(pin);
}

bool Lapic::is_level_fixed(uint32_t lvt) {
  return (lvt & kLevelTriggered) != 0 && (lvt & kDeliveryModeMask) == 0;
}

// Sends LINTn's interrupt when the line calls for it: edge entries are only
// called on assertion; a level-triggered fixed entry sends while asserted
// and sets Remote IRR until the EOI of its vector.
void Lapic::service_lint(unsigned pin) {
  Lvt which = static_cast<Lvt>(static_cast<unsigned>(Lvt::Lint0) + pin);
  uint32_t& lvt = lvt_ref(which);
  if (!lint_asserted_[pin] || is_masked(lvt)) return;
  if (is_level_fixed(lvt)) {
    if (lvt & reg::kLvtRemoteIrr) return;
    lvt |= reg::kLvtRemoteIrr;
  }
  fire_lvt(which);
}

std::optional<uint8_t> Lapic::pending_vector() const {
  if (!hardware_enabled() || !software_enabled()) return std::nullopt;
  auto v = irr_.highest();
  if (!v || priority_class(*v) <= priority_class(ppr())) return std::nullopt;
  return v;
}

void Lapic::acknowledge(uint8_t vector) {
  irr_.clear(vector);
  isr_.set(vector);
}

// EOI (SDM 11.8.5): retires the highest in-service vector.
void Lapic::eoi() {
  auto v = isr_.highest();
  if (!v) return;
  isr_.clear(*v);
  if (!tmr_.test(*v)) return;
  level_eois_.set(*v);
  for (unsigned pin = 0; pin < 2; ++pin) {
    uint32_t& lvt = lvt_[static_cast<unsigned>(Lvt::Lint0) + pin];
    if ((lvt & reg::kLvtRemoteIrr) && (lvt & kVectorMask) == *v) {
      lvt &= ~reg::kLvtRemoteIrr;
      service_lint(pin);
    }
  }
}

std::optional<uint8_t> Lapic::take_level_eoi() {
  auto v = level_eois_.highest();
  if (v) level_eois_.clear(*v);
  return v;
}

bool Lapic::take_nmi() { return std::exchange(nmi_, false); }
bool Lapic::take_init() { return std::exchange(init_, false); }
bool Lapic::take_extint() { return std::exchange(extint_, false); }
std::optional<uint8_t> Lapic::take_sipi() { return std::exchange(sipi_, std::nullopt); }

bool Lapic::has_wake_event() const {
  return pending_vector().has_value() || nmi_ || init_ || extint_ || sipi_.has_value();
}

void Lapic::advance_time(uint64_t now_ns, uint64_t now_tsc) {
  uint64_t expiries = timer_.advance(now_ns, now_tsc);
  uint32_t lvt = lvt_ref(Lvt::Timer);
  if (timer_.mode() != TimerMode::Periodic) {
    if (expiries) fire_lvt(Lvt::Timer);
    return;
  }
  if (is_masked(lvt)) {  // (software disable masks it too)
    timer_backlog_ = 0;  // masked ticks are not delivered later
    return;
  }
  if (expiries == 0 && timer_backlog_ == 0) return;
  uint64_t most = std::max<uint64_t>(kMaxTimerCatchUpNs / timer_.period_ns(), 1);
  timer_backlog_ = std::min(timer_backlog_ + expiries, most);
  // One tick per IRR bit: the next waits until this one is taken.
  if (irr_.test(static_cast<uint8_t>(lvt & kVectorMask))) return;
  fire_lvt(Lvt::Timer);
  --timer_backlog_;
}

bool Lapic::matches_physical(uint32_t destination) const {
  uint32_t dest = destination & 0xFF;
  return dest == kBroadcastDestination || dest == (id_ & 0xFF);
}

// SDM 11.6.2.2: DFR bits 31:28 select the flat (1111b) or cluster (0000b)
// model; the logical APIC ID is LDR bits 31:24.
bool Lapic::matches_logical(uint8_t destination) const {
  if (destination == kBroadcastDestination) return true;
  uint8_t logical_id = static_cast<uint8_t>(ldr_ >> 24);
  if ((dfr_ >> 28) == 0xF) return (logical_id & destination) != 0;
  return (logical_id >> 4) == (destination >> 4) && (logical_id & destination & 0xF) != 0;
}

}  // namespace amalgam::irq
