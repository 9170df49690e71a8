#include "devices/cmos_rtc.hpp"

#include <chrono>

namespace amalgam::devices {

namespace {
// Register indexes and bits (MC146818A data sheet, register descriptions).
constexpr uint8_t kSeconds = 0x00, kMinutes = 0x02, kHours = 0x04, kDayOfWeek = 0x06, kDayOfMonth = 0x07,
                  kMonth = 0x08, kYear = 0x09, kRegA = 0x0A, kRegB = 0x0B, kRegC = 0x0C, kRegD = 0x0D;
constexpr uint8_t kAUip = 0x80;
constexpr uint8_t kBSet = 0x80, kBBinary = 0x04, kB24Hour = 0x02;
constexpr uint8_t kDVrt = 0x80;
constexpr uint8_t kHourPm = 0x80;
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kUipNs = 244'000;  // UIP is high this long before each update
constexpr int kFirstYear = 1970, kLastYear = 2099;

bool is_time_register(uint8_t index) {
  switch (index) {
    case kSeconds: case kMinutes: case kHours: case kDayOfWeek: case kDayOfMonth: case kMonth: case kYear:
    case CmosRtc::kCenturyRegister:
      return true;
    default:
      return false;
  }
}

uint8_t encode(int value, bool binary) {
  return static_cast<uint8_t>(binary ? value : (value / 10) << 4 | value % 10);
}

// -1 when the byte is not a valid BCD number.
int decode(uint8_t byte, bool binary) {
  if (binary) return byte;
  int high = byte >> 4, low = byte & 0xF;
  return high > 9 || low > 9 ? -1 : high * 10 + low;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }
}  // namespace

CmosRtc::CmosRtc(std::function<int64_t()> now_ns) : now_ns_(std::move(now_ns)) {
  cmos_[kRegA] = 0x26;  // 32.768 kHz time base, 1.024 kHz periodic rate
  cmos_[kRegB] = kB24Hour;
}

void CmosRtc::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i < kSize ? read_byte(offset + i) : 0xFF;
}

void CmosRtc::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < data.size(); ++i)
    if (offset + i < kSize) write_byte(offset + i, data[i]);
}

uint8_t CmosRtc::read_byte(uint64_t offset) {
  if (offset == 0) return 0xFF;  // the index port is write-only
  bool set = cmos_[kRegB] & kBSet;
  switch (index_) {
    case kRegA: {
      int64_t ns = now_ns_(), within_second = ns - floor_div(ns, kNsPerSecond) * kNsPerSecond;
      bool uip = !set && within_second >= kNsPerSecond - kUipNs;
      return static_cast<uint8_t>(cmos_[kRegA] | (uip ? kAUip : 0));
    }
    case kRegC:
      return 0;  // no interrupt flags: this RTC raises no interrupts
    case kRegD:
      return kDVrt;
    default:
      if (is_time_register(index_) && !set) store_time();
      return cmos_[index_];
  }
}

void CmosRtc::write_byte(uint64_t offset, uint8_t value) {
  if (offset == 0) {
    index_ = value & 0x7F;
    nmi_disabled_ = value & 0x80;
    return;
  }
  bool set = cmos_[kRegB] & kBSet;
  switch (index_) {
    case kRegA:
      cmos_[kRegA] = value & static_cast<uint8_t>(~kAUip);
      return;
    case kRegB:
      // The time bytes are read in the mode they were written in: before
      // register B changes.
      if (!set && (value & kBSet)) store_time();
      if (set && !(value & kBSet)) load_time();
      cmos_[kRegB] = value;
      return;
    case kRegC:
    case kRegD:
      return;  // read-only
    default:
      if (is_time_register(index_) && !set) {
        store_time();
        cmos_[index_] = value;
        load_time();
      } else {
        cmos_[index_] = value;
      }
  }
}

void CmosRtc::store_time() {
  using namespace std::chrono;
  bool binary = cmos_[kRegB] & kBBinary, h24 = cmos_[kRegB] & kB24Hour;
  int64_t s = floor_div(now_ns_(), kNsPerSecond) + offset_s_;
  int64_t day = floor_div(s, 86400), in_day = s - day * 86400;
  sys_days date{days{day}};
  year_month_day ymd{date};
  int year = static_cast<int>(ymd.year());
  int hour = static_cast<int>(in_day / 3600);

  cmos_[kSeconds] = encode(static_cast<int>(in_day % 60), binary);
  cmos_[kMinutes] = encode(static_cast<int>(in_day / 60 % 60), binary);
  if (h24)
    cmos_[kHours] = encode(hour, binary);
  else
    cmos_[kHours] = static_cast<uint8_t>(encode(hour % 12 == 0 ? 12 : hour % 12, binary) | (hour >= 12 ? kHourPm : 0));
  cmos_[kDayOfWeek] = encode(static_cast<int>(weekday{date}.c_encoding()) + 1, binary);  // 1 = Sunday
  cmos_[kDayOfMonth] = encode(static_cast<int>(static_cast<unsigned>(ymd.day())), binary);
  cmos_[kMonth] = encode(static_cast<int>(static_cast<unsigned>(ymd.month())), binary);
  cmos_[kYear] = encode(year % 100, binary);
  cmos_[kCenturyRegister] = encode(year / 100, binary);
}

void CmosRtc::load_time() {
  using namespace std::chrono;
  bool binary = cmos_[kRegB] & kBBinary, h24 = cmos_[kRegB] & kB24Hour;
  int second = decode(cmos_[kSeconds], binary), minute = decode(cmos_[kMinutes], binary);
  int day = decode(cmos_[kDayOfMonth], binary), month = decode(cmos_[kMonth], binary);
  int year = decode(cmos_[kYear], binary), century = decode(cmos_[kCenturyRegister], binary);
  int hour;
  if (h24) {
    hour = decode(cmos_[kHours], binary);
  } else {
    int h12 = decode(cmos_[kHours] & static_cast<uint8_t>(~kHourPm), binary);
    hour = h12 < 1 || h12 > 12 ? -1 : h12 % 12 + (cmos_[kHours] & kHourPm ? 12 : 0);
  }
  if (second < 0 || second > 59 || minute < 0 || minute > 59 || hour < 0 || hour > 23 || year < 0 || year > 99 ||
      century < 0 || day < 0 || month < 0)
    return;
  year += century * 100;  // the century byte holds the clock's century unless the guest wrote another
  if (year < kFirstYear || year > kLastYear) return;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                     std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return;
  int64_t s = int64_t{sys_days{ymd}.time_since_epoch().count()} * 86400 + hour * 3600 + minute * 60 + second;
  offset_s_ = s - floor_div(now_ns_(), kNsPerSecond);
}

}  // namespace amalgam::devices
