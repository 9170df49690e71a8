// Lapic: the xAPIC register page (SDM 11.4.1, table 11-1).
#include "irq/lapic.hpp"

namespace amalgam::irq {

namespace {

// Which of the 8 words of ISR/TMR/IRR an offset names, if it does.
std::optional<unsigned> vector_word(uint32_t offset, uint32_t base) {
  if (offset < base || offset >= base + 0x80) return std::nullopt;
  return (offset - base) / 0x10;
}

std::optional<unsigned> lvt_index(uint32_t offset) {
  if (offset < reg::kLvtTimer || offset > reg::kLvtError) return std::nullopt;
  return (offset - reg::kLvtTimer) / 0x10;
}

// Writable bits of each LVT entry (SDM 11.5.1, figure 11-8).
constexpr std::array<uint32_t, kLvtCount> kLvtWritable = {
    0x0007'00FF,  // timer: vector, mask, mode
    0x0001'07FF,  // thermal: vector, delivery mode, mask
    0x0001'07FF,  // perf
    0x0001'A7FF,  // LINT0: + polarity, trigger mode
    0x0001'A7FF,  // LINT1
    0x0001'00FF,  // error: vector, mask
};

}  // namespace

uint32_t Lapic::read(uint32_t offset, uint64_t now_ns) {
  if (!hardware_enabled()) return 0;
  if ((offset & 0xF) == 0) {
    if (auto w = vector_word(offset, reg::kIsr)) return isr_.word(*w);
    if (auto w = vector_word(offset, reg::kTmr)) return tmr_.word(*w);
    if (auto w = vector_word(offset, reg::kIrr)) return irr_.word(*w);
    if (auto i = lvt_index(offset)) return lvt_[*i];
  }
  switch (offset) {
    case reg::kId: return id_ << 24;
    case reg::kVersion: return reg::kVersionValue;
    case reg::kTpr: return tpr_;
    case reg::kApr:  // arbitration priority: not used by xAPIC software
    case reg::kEoi:  // write-only
    case reg::kRrd:  // remote read is not supported by the xAPIC
      return 0;
    case reg::kPpr: return ppr();
    case reg::kLdr: return ldr_;
    case reg::kDfr: return dfr_;
    case reg::kSvr: return svr_;
    case reg::kEsr: return esr_;
    case reg::kIcrLow: return icr_low_;  // delivery status always idle
    case reg::kIcrHigh: return icr_high_;
    case reg::kTimerInitialCount: return timer_.initial_count();
    case reg::kTimerCurrentCount: return timer_.current_count(now_ns);
    case reg::kTimerDivideConfig: return timer_.divide_config();
    default:
      raise_error(reg::kEsrIllegalRegister);
      return 0;
  }
}

std::optional<InterruptMessage> Lapic::write(uint32_t offset, uint32_t value, uint64_t now_ns) {
  if (!hardware_enabled()) return std::nullopt;
  if ((offset & 0xF) == 0) {
    if (vector_word(offset, reg::kIsr) || vector_word(offset, reg::kTmr) ||
        vector_word(offset, reg::kIrr)) {
      return std::nullopt;  // read-only
    }
    if (auto i = lvt_index(offset)) {
      write_lvt(*i, value);
      return std::nullopt;
    }
  }
  switch (offset) {
    case reg::kId: id_ = value >> 24; break;  // writable in xAPIC mode
    case reg::kTpr: tpr_ = value & 0xFF; break;
    case reg::kEoi: eoi(); break;
    case reg::kLdr: ldr_ = value & 0xFF00'0000; break;
    case reg::kDfr: dfr_ = value | 0x0FFF'FFFF; break;
    case reg::kSvr: write_svr(value); break;
    case reg::kEsr:  // SDM 11.5.3: a write latches the errors seen since the last one
      esr_ = esr_pending_;
      esr_pending_ = 0;
      break;
    case reg::kIcrHigh: icr_high_ = value & 0xFF00'0000; break;
    case reg::kIcrLow: return write_icr(value);
    case reg::kTimerInitialCount:
      timer_.set_initial_count(value, now_ns);
      timer_backlog_ = 0;
      break;
    case reg::kTimerDivideConfig: timer_.set_divide_config(value, now_ns); break;
    case reg::kVersion:
    case reg::kApr:
    case reg::kPpr:
    case reg::kRrd:
    case reg::kTimerCurrentCount:
      break;  // read-only
    default:
      raise_error(reg::kEsrIllegalRegister);
  }
  return std::nullopt;
}

// Software disable (SDM 11.4.7.2) masks every LVT entry.
void Lapic::write_svr(uint32_t value) {
  svr_ = value & reg::kSvrWritable;
  if (!software_enabled()) {
    for (auto& lvt : lvt_) lvt |= reg::kLvtMasked;
  }
}

void Lapic::write_lvt(unsigned index, uint32_t value) {
  uint32_t& lvt = lvt_[index];
  uint32_t kept = lvt & reg::kLvtRemoteIrr;
  uint32_t next = (value & kLvtWritable[index]) | kept;
  if (!software_enabled()) next |= reg::kLvtMasked;  // mask stays set
  if (index == static_cast<unsigned>(Lvt::Timer)) {
    uint32_t mode = (next >> reg::kLvtTimerModeShift) & 3;
    if (mode == 3) {  // reserved: keep the current mode
      mode = static_cast<uint32_t>(timer_.mode());
      next = (next & ~(3u << reg::kLvtTimerModeShift)) | (mode << reg::kLvtTimerModeShift);
    }
    timer_.set_mode(static_cast<TimerMode>(mode));
    timer_backlog_ = 0;
  }
  // Remote IRR is only for level-triggered fixed LINT entries.
  if ((next & kLevelTriggered) == 0) next &= ~reg::kLvtRemoteIrr;
  lvt = next;
  if (index == static_cast<unsigned>(Lvt::Lint0) || index == static_cast<unsigned>(Lvt::Lint1)) {
    // An unmasked level-triggered entry sends if its line is asserted.
    if (is_level_fixed(next)) service_lint(index - static_cast<unsigned>(Lvt::Lint0));
  }
}

// SDM 11.6.1. The message goes out at once, so delivery status stays 0.
std::optional<InterruptMessage> Lapic::write_icr(uint32_t low) {
  icr_low_ = low & 0x000C'CFFF;
  InterruptMessage m = decode_icr(icr_low_, icr_high_, id_);
  uint32_t mode = static_cast<uint32_t>(m.mode);
  if (!is_valid_delivery_mode(mode)) return std::nullopt;
  if (m.mode == DeliveryMode::Init && m.level_triggered && !m.assert_level) return std::nullopt;
  bool vectored = m.mode == DeliveryMode::Fixed || m.mode == DeliveryMode::LowestPriority;
  if (vectored && m.vector < 16) {
    raise_error(reg::kEsrSendIllegalVector);
    return std::nullopt;
  }
  return m;
}

}  // namespace amalgam::irq
