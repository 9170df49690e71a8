// xAPIC register offsets in the 4 KiB LAPIC page and their bits
// (SDM 11.4.1, table 11-1).
#pragma once

#include <cstdint>

namespace amalgam::irq::reg {

inline constexpr uint32_t kId = 0x20;
inline constexpr uint32_t kVersion = 0x30;
inline constexpr uint32_t kTpr = 0x80;
inline constexpr uint32_t kApr = 0x90;
inline constexpr uint32_t kPpr = 0xA0;
inline constexpr uint32_t kEoi = 0xB0;
inline constexpr uint32_t kRrd = 0xC0;
inline constexpr uint32_t kLdr = 0xD0;
inline constexpr uint32_t kDfr = 0xE0;
inline constexpr uint32_t kSvr = 0xF0;
inline constexpr uint32_t kIsr = 0x100;  // 8 registers, 0x10 apart
inline constexpr uint32_t kTmr = 0x180;
inline constexpr uint32_t kIrr = 0x200;
inline constexpr uint32_t kEsr = 0x280;
inline constexpr uint32_t kIcrLow = 0x300;
inline constexpr uint32_t kIcrHigh = 0x310;
inline constexpr uint32_t kLvtTimer = 0x320;  // the 6 LVT entries, 0x10 apart
inline constexpr uint32_t kLvtThermal = 0x330;
inline constexpr uint32_t kLvtPerf = 0x340;
inline constexpr uint32_t kLvtLint0 = 0x350;
inline constexpr uint32_t kLvtLint1 = 0x360;
inline constexpr uint32_t kLvtError = 0x370;
inline constexpr uint32_t kTimerInitialCount = 0x380;
inline constexpr uint32_t kTimerCurrentCount = 0x390;
inline constexpr uint32_t kTimerDivideConfig = 0x3E0;

// Version: 0x14 (integrated xAPIC), max LVT entry 5 (SDM 11.4.8).
inline constexpr uint32_t kVersionValue = 0x0005'0014;

// SVR (SDM 11.9).
inline constexpr uint32_t kSvrSoftwareEnable = 1u << 8;
inline constexpr uint32_t kSvrFocusDisable = 1u << 9;
inline constexpr uint32_t kSvrWritable = 0x3FF;  // no EOI-broadcast suppression

// LVT entries (SDM 11.5.1).
inline constexpr uint32_t kLvtMasked = 1u << 16;
inline constexpr uint32_t kLvtActiveLow = 1u << 13;
inline constexpr uint32_t kLvtRemoteIrr = 1u << 14;
inline constexpr unsigned kLvtTimerModeShift = 17;

// ESR bits (SDM 11.5.3).
inline constexpr uint32_t kEsrSendIllegalVector = 1u << 5;
inline constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;
inline constexpr uint32_t kEsrIllegalRegister = 1u << 7;

// IA32_APIC_BASE (SDM 11.4.4).
inline constexpr uint64_t kApicBaseBsp = 1u << 8;
inline constexpr uint64_t kApicBaseX2apic = 1u << 10;
inline constexpr uint64_t kApicBaseEnable = 1u << 11;
inline constexpr uint64_t kApicBaseDefault = 0xFEE0'0000;
inline constexpr uint64_t kApicBaseAddressMask = 0x000F'FFFF'FFFF'F000;  // 52-bit physical

}  // namespace amalgam::irq::reg
