#include <gtest/gtest.h>

#include "lapic_fixture.hpp"

using namespace amalgam::irq;
using namespace amalgam::irq::test;

namespace {

constexpr uint32_t kVector = 0xEC;
constexpr uint32_t kPeriodic = 1u << 17;
constexpr uint32_t kTscDeadline = 2u << 17;
constexpr uint32_t kDivideBy1 = 0xB;

// Advances to now; returns whether the timer vector became pending, and
// takes and retires it so the next expiry can be seen.
bool fired_at(Lapic& l, uint64_t now_ns, uint64_t now_tsc = 0) {
  l.advance_time(now_ns, now_tsc);
  if (l.pending_vector() != kVector) return false;
  take(l);
  eoi(l);
  return true;
}

// An enabled LAPIC whose timer was started at now_ns.
Lapic started_timer(uint32_t lvt, uint32_t divide_config, uint32_t initial_count, uint64_t now_ns = 0) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtTimer, lvt, 0);
  l.write(reg::kTimerDivideConfig, divide_config, 0);
  l.write(reg::kTimerInitialCount, initial_count, now_ns);
  return l;
}

}  // namespace

TEST(LapicTimer, DivideConfigEncodings) {
  // SDM 11.5.4, figure 11-10: bits 3,1:0.
  const std::pair<uint32_t, uint32_t> encodings[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},  {0x3, 16},
                                                     {0x8, 32}, {0x9, 64}, {0xA, 128}, {0xB, 1}};
  for (auto [dcr, divisor] : encodings) {
    LapicTimer t(kTimerHz, kTscHz);
    t.set_divide_config(dcr, 0);
    EXPECT_EQ(t.divisor(), divisor) << dcr;
  }
}

TEST(LapicTimer, CurrentCountDecreasesAtEachDividerRate) {
  for (uint32_t dcr : {0x0u, 0x1u, 0x2u, 0x3u, 0x8u, 0x9u, 0xAu, 0xBu}) {
    Lapic l = enabled_lapic();
    l.write(reg::kTimerDivideConfig, dcr, 0);
    LapicTimer reference(kTimerHz, kTscHz);
    reference.set_divide_config(dcr, 0);
    const uint64_t div = reference.divisor();
    const uint64_t t0 = 5'000;
    l.write(reg::kTimerInitialCount, 1000, t0);
    EXPECT_EQ(l.read(reg::kTimerInitialCount, t0), 1000u);
    EXPECT_EQ(l.read(reg::kTimerCurrentCount, t0), 1000u);
    EXPECT_EQ(l.read(reg::kTimerCurrentCount, t0 + div), 999u) << dcr;
    EXPECT_EQ(l.read(reg::kTimerCurrentCount, t0 + 10 * div + div / 2), 990u) << dcr;
    EXPECT_EQ(l.read(reg::kTimerCurrentCount, t0 + 999 * div), 1u) << dcr;
    EXPECT_EQ(l.read(reg::kTimerCurrentCount, t0 + 1000 * div), 0u) << dcr;
    EXPECT_EQ(l.next_timer_deadline_ns(), t0 + 1000 * div) << dcr;
  }
}

TEST(LapicTimer, OneShotFiresOnceAtTheExactNanosecond) {
  Lapic l = started_timer(kVector, 0x0, 500, 100);  // by 2
  EXPECT_EQ(l.next_timer_deadline_ns(), 1100u);
  EXPECT_FALSE(fired_at(l, 1099));
  EXPECT_TRUE(fired_at(l, 1100));
  EXPECT_FALSE(l.next_timer_deadline_ns());
  EXPECT_EQ(l.read(reg::kTimerCurrentCount, 1100), 0u);
  EXPECT_EQ(l.read(reg::kTimerInitialCount, 1100), 500u);
  EXPECT_FALSE(fired_at(l, 100'000));
}

TEST(LapicTimer, OneShotLateAdvanceStillFiresOnce) {
  Lapic l = started_timer(kVector, kDivideBy1, 10);
  EXPECT_TRUE(fired_at(l, 1'000'000));
  EXPECT_FALSE(fired_at(l, 2'000'000));
}

TEST(LapicTimer, PeriodicReloadsAndFiresEachPeriod) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtTimer, kPeriodic | kVector, 0);
  l.write(reg::kTimerDivideConfig, 0x1, 0);  // by 4
  const uint64_t t0 = 777, period = 4 * 250'000;
  l.write(reg::kTimerInitialCount, 250'000, t0);
  int fired = 0;
  for (uint64_t n = 1; n <= 10; ++n) {
    EXPECT_EQ(l.next_timer_deadline_ns(), t0 + n * period);
    EXPECT_FALSE(fired_at(l, t0 + n * period - 1));
    EXPECT_EQ(l.read(reg::kTimerCurrentCount, t0 + n * period - 4), 1u);
    if (fired_at(l, t0 + n * period)) ++fired;
    EXPECT_EQ(l.read(reg::kTimerCurrentCount, t0 + n * period), 250'000u);  // reloaded
  }
  EXPECT_EQ(fired, 10);
}

TEST(LapicTimer, PeriodicMissedTicksComeOneAfterAnother) {
  Lapic l = started_timer(kPeriodic | kVector, kDivideBy1, 1'000'000);
  l.advance_time(3'500'000, 0);  // three periods late
  EXPECT_EQ(l.timer_backlog(), 2u);
  EXPECT_EQ(l.next_timer_deadline_ns(), 4'000'000u);
  // Counting went on through the missed periods.
  EXPECT_EQ(l.read(reg::kTimerCurrentCount, 3'500'000), 500'000u);
  // One IRR bit holds one tick: the next waits until it is taken.
  l.advance_time(3'500'100, 0);
  EXPECT_EQ(l.timer_backlog(), 2u);
  EXPECT_EQ(take(l), kVector);
  eoi(l);
  EXPECT_TRUE(fired_at(l, 3'500'200));
  EXPECT_TRUE(fired_at(l, 3'500'300));
  EXPECT_EQ(l.timer_backlog(), 0u);
  EXPECT_FALSE(fired_at(l, 3'999'999));
  EXPECT_TRUE(fired_at(l, 4'000'000));
}

TEST(LapicTimer, PeriodicBacklogIsBounded) {
  const uint64_t period = 1'000'000;
  Lapic l = started_timer(kPeriodic | kVector, kDivideBy1, period);
  l.advance_time(60 * kMaxTimerCatchUpNs, 0);
  EXPECT_EQ(l.timer_backlog(), kMaxTimerCatchUpNs / period - 1);  // one is in IRR
}

TEST(LapicTimer, PeriodicBacklogIsDroppedByMaskOrNewCount) {
  Lapic l = started_timer(kPeriodic | kVector, kDivideBy1, 1'000'000);
  l.advance_time(5'000'000, 0);
  EXPECT_EQ(l.timer_backlog(), 4u);
  l.write(reg::kTimerInitialCount, 1'000'000, 5'000'000);
  EXPECT_EQ(l.timer_backlog(), 0u);
  take(l);
  eoi(l);
  l.advance_time(9'000'000, 0);
  EXPECT_EQ(l.timer_backlog(), 3u);
  l.write(reg::kLvtTimer, reg::kLvtMasked | kPeriodic | kVector, 9'000'000);
  EXPECT_EQ(l.timer_backlog(), 0u);
  take(l);
  eoi(l);
  l.write(reg::kLvtTimer, kPeriodic | kVector, 9'000'000);
  EXPECT_FALSE(fired_at(l, 9'500'000));
}

TEST(LapicTimer, OneShotExpiryInIrrIsNotRepeated) {
  Lapic l = started_timer(kVector, kDivideBy1, 1000);
  l.advance_time(5000, 0);
  l.write(reg::kTimerInitialCount, 1000, 5000);
  l.advance_time(7000, 0);  // the first is still in IRR: one interrupt
  EXPECT_TRUE(fired_at(l, 7000));
  EXPECT_FALSE(fired_at(l, 8000));
}

TEST(LapicTimer, PeriodicReloadIsRateLimited) {
  Lapic l = started_timer(kPeriodic | kVector, kDivideBy1, 10);
  EXPECT_EQ(l.next_timer_deadline_ns(), 10u);  // the first expiry is exact
  EXPECT_TRUE(fired_at(l, 10));
  EXPECT_EQ(l.next_timer_deadline_ns(), 10 + kMinPeriodicTimerNs);
}

TEST(LapicTimer, MaskedTimerCountsButDoesNotInterrupt) {
  Lapic l = started_timer(reg::kLvtMasked | kPeriodic | kVector, kDivideBy1, 1'000'000);
  EXPECT_FALSE(fired_at(l, 1'000'000));
  EXPECT_EQ(l.next_timer_deadline_ns(), 2'000'000u);
  l.write(reg::kLvtTimer, kPeriodic | kVector, 0);
  EXPECT_TRUE(fired_at(l, 2'000'000));
}

TEST(LapicTimer, InitialCountZeroStopsTheTimer) {
  Lapic l = started_timer(kPeriodic | kVector, 0x0, 1'000'000);
  ASSERT_TRUE(l.next_timer_deadline_ns());
  l.write(reg::kTimerInitialCount, 0, 100);
  EXPECT_FALSE(l.next_timer_deadline_ns());
  EXPECT_EQ(l.read(reg::kTimerCurrentCount, 200), 0u);
  EXPECT_FALSE(fired_at(l, 10'000'000));
}

TEST(LapicTimer, RewritingInitialCountRestarts) {
  Lapic l = started_timer(kVector, kDivideBy1, 1000);
  l.write(reg::kTimerInitialCount, 1000, 600);
  EXPECT_EQ(l.next_timer_deadline_ns(), 1600u);
  EXPECT_FALSE(fired_at(l, 1000));
  EXPECT_TRUE(fired_at(l, 1600));
}

TEST(LapicTimer, DivideChangeKeepsTheCurrentCount) {
  Lapic l = started_timer(kVector, kDivideBy1, 1000);
  l.write(reg::kTimerDivideConfig, 0x0, 400);  // 600 left, now at 2 ns each
  EXPECT_EQ(l.read(reg::kTimerCurrentCount, 400), 600u);
  EXPECT_EQ(l.next_timer_deadline_ns(), 1600u);
  EXPECT_EQ(l.read(reg::kTimerCurrentCount, 1000), 300u);
}

TEST(LapicTimer, TscDeadlineFiresOnceAndDisarms) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtTimer, kTscDeadline | kVector, 0);
  // TSC at 2 GHz: 2 ticks per ns. At 1000 ns the TSC is 5000.
  l.set_tsc_deadline_msr(7000, 1000, 5000);
  EXPECT_EQ(l.tsc_deadline_msr(), 7000u);
  EXPECT_EQ(l.next_timer_deadline_ns(), 2000u);
  EXPECT_FALSE(fired_at(l, 1999, 6998));
  EXPECT_TRUE(fired_at(l, 2000, 7000));
  EXPECT_EQ(l.tsc_deadline_msr(), 0u);
  EXPECT_FALSE(l.next_timer_deadline_ns());
  EXPECT_FALSE(fired_at(l, 5000, 13000));
}

TEST(LapicTimer, TscDeadlineMetByEitherClock) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtTimer, kTscDeadline | kVector, 0);
  l.set_tsc_deadline_msr(7001, 1000, 5000);  // 1000.5 ns away: rounds up
  EXPECT_EQ(l.next_timer_deadline_ns(), 2001u);
  EXPECT_TRUE(fired_at(l, 2001, 7000));  // the caller's TSC is a tick behind
  l.set_tsc_deadline_msr(9000, 2001, 7000);
  EXPECT_TRUE(fired_at(l, 2002, 9000));  // the TSC got there first
}

TEST(LapicTimer, TscDeadlineInThePastIsDueNow) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtTimer, kTscDeadline | kVector, 0);
  l.set_tsc_deadline_msr(100, 1000, 5000);
  EXPECT_EQ(l.next_timer_deadline_ns(), 1000u);
  EXPECT_TRUE(fired_at(l, 1000, 5000));
}

TEST(LapicTimer, TscDeadlineFarAwayDoesNotWrapAround) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtTimer, kTscDeadline | kVector, 0);
  l.set_tsc_deadline_msr(UINT64_MAX, 1000, 5000);
  EXPECT_GT(l.next_timer_deadline_ns(), 9'000'000'000'000'000'000u);
  EXPECT_FALSE(fired_at(l, 1'000'000'000, 2'000'005'000));
  // With a 1 MHz TSC the distance in ns does not fit 64 bits: it saturates.
  LapicTimer slow(kTimerHz, 1'000'000);
  slow.set_mode(TimerMode::TscDeadline);
  slow.set_tsc_deadline(UINT64_MAX, 1000, 5000);
  EXPECT_EQ(slow.next_deadline_ns(), UINT64_MAX);
  EXPECT_EQ(slow.advance(1'000'000'000, 1'000'005'000), 0u);
}

TEST(LapicTimer, TscDeadlineZeroDisarms) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtTimer, kTscDeadline | kVector, 0);
  l.set_tsc_deadline_msr(7000, 1000, 5000);
  l.set_tsc_deadline_msr(0, 1500, 6000);
  EXPECT_FALSE(l.next_timer_deadline_ns());
  EXPECT_FALSE(fired_at(l, 10'000, 25'000));
}

TEST(LapicTimer, TscDeadlineModeIgnoresCountsAndOtherModesIgnoreTheMsr) {
  Lapic l = enabled_lapic();
  l.write(reg::kLvtTimer, kVector, 0);
  l.set_tsc_deadline_msr(7000, 1000, 5000);  // one-shot mode: ignored
  EXPECT_EQ(l.tsc_deadline_msr(), 0u);
  EXPECT_FALSE(l.next_timer_deadline_ns());
  l.write(reg::kLvtTimer, kTscDeadline | kVector, 0);
  l.write(reg::kTimerInitialCount, 1000, 0);  // ignored (SDM 11.5.4.1)
  EXPECT_EQ(l.read(reg::kTimerInitialCount, 0), 0u);
  EXPECT_EQ(l.read(reg::kTimerCurrentCount, 0), 0u);
  EXPECT_FALSE(l.next_timer_deadline_ns());
}

TEST(LapicTimer, SwitchingToAndFromTscDeadlineDisarms) {
  Lapic l = started_timer(kVector, 0x0, 1000);
  l.write(reg::kLvtTimer, kTscDeadline | kVector, 10);
  EXPECT_FALSE(l.next_timer_deadline_ns());
  EXPECT_EQ(l.read(reg::kTimerInitialCount, 10), 0u);
  l.set_tsc_deadline_msr(7000, 1000, 5000);
  l.write(reg::kLvtTimer, kPeriodic | kVector, 1100);
  EXPECT_FALSE(l.next_timer_deadline_ns());
  EXPECT_EQ(l.tsc_deadline_msr(), 0u);
  EXPECT_FALSE(fired_at(l, 100'000, 300'000));
}

TEST(LapicTimer, SwitchingOneShotToPeriodicKeepsCounting) {
  Lapic l = started_timer(kVector, kDivideBy1, 1'000'000);
  l.write(reg::kLvtTimer, kPeriodic | kVector, 300'000);
  EXPECT_EQ(l.read(reg::kTimerCurrentCount, 300'000), 700'000u);
  EXPECT_TRUE(fired_at(l, 1'000'000));
  EXPECT_EQ(l.next_timer_deadline_ns(), 2'000'000u);
  l.write(reg::kLvtTimer, kVector, 1'500'000);  // back to one-shot: this period is the last
  EXPECT_TRUE(fired_at(l, 2'000'000));
  EXPECT_FALSE(l.next_timer_deadline_ns());
}
