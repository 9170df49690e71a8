#include "devices/cmos_rtc.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace amalgam::devices {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDec7Morning = 1'796'617'887;    // 2026-12-07 04:31:27 UTC, a Monday
constexpr int64_t kDec7Afternoon = 1'796'661'087;  // 2026-12-07 16:31:27 UTC
constexpr int64_t kLastOf1999 = 946'684'799;       // 1999-12-31 23:59:59 UTC, a Friday

uint8_t get(CmosRtc& rtc, uint8_t index) {
  uint8_t i[1] = {index}, b[1] = {};
  rtc.write(0, i);
  rtc.read(1, b);
  return b[0];
}

void put(CmosRtc& rtc, uint8_t index, uint8_t value) {
  uint8_t i[1] = {index}, b[1] = {value};
  rtc.write(0, i);
  rtc.write(1, b);
}

TEST(CmosRtc, ReadsTheTimeInBcd) {
  int64_t now = kDec7Morning * kSecond + kSecond / 2;
  CmosRtc rtc([&] { return now; });
  EXPECT_EQ(get(rtc, 0x0B), 0x02);  // 24 h, BCD
  EXPECT_EQ(get(rtc, 0x00), 0x27);
  EXPECT_EQ(get(rtc, 0x02), 0x31);
  EXPECT_EQ(get(rtc, 0x04), 0x04);
  EXPECT_EQ(get(rtc, 0x06), 0x02);  // Monday
  EXPECT_EQ(get(rtc, 0x07), 0x07);
  EXPECT_EQ(get(rtc, 0x08), 0x12);
  EXPECT_EQ(get(rtc, 0x09), 0x26);
  EXPECT_EQ(get(rtc, CmosRtc::kCenturyRegister), 0x20);
}

TEST(CmosRtc, ReadsTheTimeInBinary) {
  int64_t now = kDec7Morning * kSecond;
  CmosRtc rtc([&] { return now; });
  put(rtc, 0x0B, 0x06);  // 24 h, binary
  EXPECT_EQ(get(rtc, 0x00), 27);
  EXPECT_EQ(get(rtc, 0x02), 31);
  EXPECT_EQ(get(rtc, 0x04), 4);
  EXPECT_EQ(get(rtc, 0x06), 2);
  EXPECT_EQ(get(rtc, 0x07), 7);
  EXPECT_EQ(get(rtc, 0x08), 12);
  EXPECT_EQ(get(rtc, 0x09), 26);
  EXPECT_EQ(get(rtc, CmosRtc::kCenturyRegister), 20);
}

TEST(CmosRtc, TwelveHourModeMarksPm) {
  int64_t now = kDec7Afternoon * kSecond;
  CmosRtc rtc([&] { return now; });
  put(rtc, 0x0B, 0x00);  // 12 h, BCD
  EXPECT_EQ(get(rtc, 0x04), 0x84);  // 4 PM
  EXPECT_EQ(get(rtc, 0x02), 0x31);
  now = kDec7Morning * kSecond;
  EXPECT_EQ(get(rtc, 0x04), 0x04);  // 4 AM
  now = (kDec7Morning - 4 * 3600 - 31 * 60 - 27) * kSecond;
  EXPECT_EQ(get(rtc, 0x04), 0x12);  // midnight is 12 AM
  now += 12 * 3600 * kSecond;
  EXPECT_EQ(get(rtc, 0x04), 0x92);  // noon is 12 PM
  now = kDec7Afternoon * kSecond;
  put(rtc, 0x0B, 0x04);  // 12 h, binary
  EXPECT_EQ(get(rtc, 0x04), 0x80 | 4);
}

TEST(CmosRtc, CenturyAndDayOfWeekRollOver) {
  int64_t now = kLastOf1999 * kSecond;
  CmosRtc rtc([&] { return now; });
  EXPECT_EQ(get(rtc, 0x09), 0x99);
  EXPECT_EQ(get(rtc, CmosRtc::kCenturyRegister), 0x19);
  EXPECT_EQ(get(rtc, 0x06), 0x06);  // Friday
  now += kSecond;
  EXPECT_EQ(get(rtc, 0x00), 0x00);
  EXPECT_EQ(get(rtc, 0x07), 0x01);
  EXPECT_EQ(get(rtc, 0x08), 0x01);
  EXPECT_EQ(get(rtc, 0x09), 0x00);
  EXPECT_EQ(get(rtc, CmosRtc::kCenturyRegister), 0x20);
  EXPECT_EQ(get(rtc, 0x06), 0x07);  // Saturday
}

TEST(CmosRtc, UipOnlyInTheLast244UsOfASecond) {
  int64_t second = kDec7Morning * kSecond;
  int64_t now = second;
  CmosRtc rtc([&] { return now; });
  EXPECT_EQ(get(rtc, 0x0A), 0x26);
  now = second + kSecond / 2;
  EXPECT_EQ(get(rtc, 0x0A), 0x26);
  now = second + kSecond - 244'001;
  EXPECT_EQ(get(rtc, 0x0A), 0x26);
  now = second + kSecond - 244'000;
  EXPECT_EQ(get(rtc, 0x0A), 0xA6);
  now = second + kSecond - 1;
  EXPECT_EQ(get(rtc, 0x0A), 0xA6);
  now = second + kSecond;
  EXPECT_EQ(get(rtc, 0x0A), 0x26);
  // UIP is read-only, the other bits are stored; SET holds UIP clear.
  put(rtc, 0x0A, 0xA0);
  now = second + kSecond - 1;
  EXPECT_EQ(get(rtc, 0x0A), 0xA0);
  put(rtc, 0x0B, 0x82);
  EXPECT_EQ(get(rtc, 0x0A), 0x20);
}

TEST(CmosRtc, TimeSetUnderSetAdvancesWithTheTimeSource) {
  int64_t now = 1'600'000'000 * kSecond + kSecond / 4;  // 2020-09-13
  CmosRtc rtc([&] { return now; });
  put(rtc, 0x0B, 0x82);  // SET, 24 h, BCD: what Linux's mc146818_set_time does
  put(rtc, 0x00, 0x27);
  put(rtc, 0x02, 0x31);
  put(rtc, 0x04, 0x04);
  put(rtc, 0x07, 0x07);
  put(rtc, 0x08, 0x12);
  put(rtc, 0x09, 0x26);
  put(rtc, CmosRtc::kCenturyRegister, 0x20);
  now += 10 * kSecond;  // frozen while SET is set
  EXPECT_EQ(get(rtc, 0x00), 0x27);
  EXPECT_EQ(get(rtc, 0x09), 0x26);
  put(rtc, 0x0B, 0x02);
  EXPECT_EQ(get(rtc, 0x00), 0x27);
  EXPECT_EQ(get(rtc, 0x06), 0x02);  // the day of week follows the date
  now += 61 * kSecond;
  EXPECT_EQ(get(rtc, 0x00), 0x28);
  EXPECT_EQ(get(rtc, 0x02), 0x32);
  now += 86400 * kSecond;
  EXPECT_EQ(get(rtc, 0x07), 0x08);
  EXPECT_EQ(get(rtc, 0x08), 0x12);
}

TEST(CmosRtc, TimeWrittenWithoutSetAdjustsTheClock) {
  int64_t now = kDec7Morning * kSecond;
  CmosRtc rtc([&] { return now; });
  put(rtc, 0x04, 0x17);
  EXPECT_EQ(get(rtc, 0x04), 0x17);
  EXPECT_EQ(get(rtc, 0x02), 0x31);
  now += kSecond;
  EXPECT_EQ(get(rtc, 0x00), 0x28);
  EXPECT_EQ(get(rtc, 0x04), 0x17);
}

TEST(CmosRtc, InvalidTimeLeavesTheClockAlone) {
  int64_t now = kDec7Morning * kSecond;
  CmosRtc rtc([&] { return now; });
  put(rtc, 0x0B, 0x82);
  put(rtc, 0x08, 0x13);  // month 13
  put(rtc, 0x0B, 0x02);
  EXPECT_EQ(get(rtc, 0x08), 0x12);
  put(rtc, 0x09, 0x5A);  // not BCD
  EXPECT_EQ(get(rtc, 0x09), 0x26);
  put(rtc, CmosRtc::kCenturyRegister, 0x21);  // 2126: past 2099
  EXPECT_EQ(get(rtc, 0x09), 0x26);
  EXPECT_EQ(get(rtc, CmosRtc::kCenturyRegister), 0x20);
  put(rtc, CmosRtc::kCenturyRegister, 0x19);  // 1926: before 1970
  EXPECT_EQ(get(rtc, CmosRtc::kCenturyRegister), 0x20);
  put(rtc, 0x09, 0x99);  // 2099 is the last year
  EXPECT_EQ(get(rtc, 0x09), 0x99);
  put(rtc, CmosRtc::kCenturyRegister, 0x19);  // 1999
  EXPECT_EQ(get(rtc, CmosRtc::kCenturyRegister), 0x19);
  EXPECT_EQ(get(rtc, 0x09), 0x99);
}

TEST(CmosRtc, StatusRegistersCAndDAreReadOnly) {
  CmosRtc rtc([] { return kDec7Morning * kSecond; });
  EXPECT_EQ(get(rtc, 0x0D), 0x80);
  put(rtc, 0x0D, 0x00);
  EXPECT_EQ(get(rtc, 0x0D), 0x80);
  EXPECT_EQ(get(rtc, 0x0C), 0x00);
  put(rtc, 0x0C, 0xF0);
  EXPECT_EQ(get(rtc, 0x0C), 0x00);
}

TEST(CmosRtc, RamAndAlarmBytesRoundTrip) {
  CmosRtc rtc([] { return kDec7Morning * kSecond; });
  EXPECT_EQ(get(rtc, 0x0E), 0x00);
  EXPECT_EQ(get(rtc, 0x7F), 0x00);
  put(rtc, 0x0E, 0x5A);
  put(rtc, 0x7F, 0xA5);
  put(rtc, 0x01, 0x45);  // seconds alarm
  EXPECT_EQ(get(rtc, 0x0E), 0x5A);
  EXPECT_EQ(get(rtc, 0x7F), 0xA5);
  EXPECT_EQ(get(rtc, 0x01), 0x45);
  EXPECT_EQ(get(rtc, 0x00), 0x27);
  EXPECT_EQ(get(rtc, 0x80 | 0x0E), 0x5A);  // bit 7 of the index is NMI disable
}

TEST(CmosRtc, IndexPortReadsFF) {
  CmosRtc rtc([] { return kDec7Morning * kSecond; });
  put(rtc, 0x0E, 0x33);
  uint8_t b[1] = {};
  rtc.read(0, b);
  EXPECT_EQ(b[0], 0xFF);
}

TEST(CmosRtc, WideAccessesActByteByByte) {
  CmosRtc rtc([] { return kDec7Morning * kSecond; });
  uint8_t w[2] = {0x0E, 0x5A};  // index, then data
  rtc.write(0, w);
  EXPECT_EQ(get(rtc, 0x0E), 0x5A);
  uint8_t r[2] = {};
  rtc.read(0, r);
  EXPECT_EQ(r[0], 0xFF);
  EXPECT_EQ(r[1], 0x5A);
  uint8_t wide[8] = {};
  rtc.read(1, wide);
  EXPECT_EQ(wide[0], 0x5A);
  EXPECT_EQ(wide[7], 0xFF);
  uint8_t junk[4] = {1, 2, 3, 4};
  rtc.write(5, junk);  // outside the device: ignored
  EXPECT_EQ(get(rtc, 0x0E), 0x5A);
}

}  // namespace
}  // namespace amalgam::devices
