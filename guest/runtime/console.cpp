// Formatted output to COM1 and the verdict. Formatting runs in the caller's
// ring (ring 3, except for rt_exception); ring 0 only copies bytes to the
// UART (SYS_WRITE).
#include "internal.hpp"

namespace rt {
namespace {

SpinLock g_print_lock;

struct Out {
  char* buf;
  size_t size;
  size_t len = 0;
  void put(char c) {
    if (len + 1 < size) buf[len] = c;
    ++len;
  }
};

void put_unsigned(Out& out, uint64_t v, unsigned base, bool upper, unsigned width, char pad, bool left) {
  char digits[24];
  unsigned n = 0;
  const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits[n++] = set[v % base];
    v /= base;
  } while (v);
  if (!left)
    for (unsigned i = n; i < width; ++i) out.put(pad);
  while (n) out.put(digits[--n]);
  if (left)
    for (unsigned i = n; i < width; ++i) out.put(' ');
}

void write_locked(const char* text, size_t len) { internal::syscall(SYS_WRITE, uintptr_t(text), len); }

}  // namespace

int vformat(char* buf, size_t size, const char* fmt, va_list ap) {
  Out out{buf, size};
  for (; *fmt; ++fmt) {
    if (*fmt != '%') {
      out.put(*fmt);
      continue;
    }
    ++fmt;
    bool left = false, alt = false;
    char pad = ' ';
    for (;; ++fmt) {
      if (*fmt == '-') left = true;
      else if (*fmt == '0') pad = '0';
      else if (*fmt == '#') alt = true;
      else break;
    }
    unsigned width = 0;
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + unsigned(*fmt++ - '0');
    int longs = 0;
    while (*fmt == 'l' || *fmt == 'z') {
      ++longs;
      ++fmt;
    }
    switch (*fmt) {
      case 'd':
      case 'i': {
        int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
        uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
        if (v < 0) {
          out.put('-');
          if (width) --width;
        }
        put_unsigned(out, mag, 10, false, width, pad, left);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
        unsigned base = *fmt == 'u' ? 10 : 16;
        if (alt && base == 16) {
          out.put('0');
          out.put('x');
        }
        put_unsigned(out, v, base, *fmt == 'X', width, pad, left);
        break;
      }
      case 'p':
        out.put('0');
        out.put('x');
        put_unsigned(out, uintptr_t(va_arg(ap, void*)), 16, false, width, pad, left);
        break;
      case 'c':
        out.put(char(va_arg(ap, int)));
        break;
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        size_t n = strlen(s);
        if (!left)
          for (size_t i = n; i < width; ++i) out.put(' ');
        while (*s) out.put(*s++);
        if (left)
          for (size_t i = n; i < width; ++i) out.put(' ');
        break;
      }
      case '%':
        out.put('%');
        break;
      case '\0':
        --fmt;
        break;
      default:
        out.put('%');
        out.put(*fmt);
    }
  }
  if (size) buf[out.len < size ? out.len : size - 1] = '\0';
  return int(out.len);
}

namespace {

// Formats "<prefix><fmt...>\n" into buf; returns the length written.
size_t format_line(char* buf, size_t size, const char* prefix, const char* fmt, va_list ap) {
  size_t n = strlen(prefix);
  if (n > size - 2) n = size - 2;
  memcpy(buf, prefix, n);
  int m = vformat(buf + n, size - n - 1, fmt, ap);
  n += size_t(m) < size - n - 1 ? size_t(m) : size - n - 2;
  buf[n++] = '\n';
  return n;
}

// "<word> <guest><sep>" into prefix.
void verdict_prefix(char (&prefix)[64], const char* word, const char* sep) {
  char* p = prefix;
  char* last = prefix + sizeof prefix - 1;
  const char* parts[] = {word, " ", guest_name, sep};
  for (const char* s : parts)
    while (*s && p < last) *p++ = *s++;
  *p = '\0';
}

// Prints "<word> <guest><sep><fmt...>" and exits with status.
[[noreturn]] void verdict(uint32_t status, const char* word, const char* sep, const char* fmt, va_list ap) {
  char prefix[64];
  verdict_prefix(prefix, word, sep);
  char buf[512];
  size_t n = format_line(buf, sizeof buf, prefix, fmt, ap);
  g_print_lock.lock();  // held until exit: nothing prints after the verdict
  write_locked(buf, n);
  internal::exit(status);
}

}  // namespace

void printf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vformat(buf, sizeof buf, fmt, ap);
  va_end(ap);
  size_t len = size_t(n) < sizeof buf ? size_t(n) : sizeof buf - 1;
  g_print_lock.lock();
  write_locked(buf, len);
  g_print_lock.unlock();
}

void pass(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verdict(0, "PASS", " ", fmt, ap);
}

void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verdict(1, "FAIL", ": ", fmt, ap);
}

void park() {
  internal::syscall(SYS_HALT);
  __builtin_unreachable();
}

uint64_t rdmsr(uint32_t msr) { return internal::syscall(SYS_RDMSR, msr); }
void wrmsr(uint32_t msr, uint64_t value) { internal::syscall(SYS_WRMSR, msr, value); }

}  // namespace rt
