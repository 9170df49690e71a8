#include "common/fault_trace.hpp"

#include <time.h>

#include <memory>

namespace amalgam::fault_trace {

namespace detail {
std::atomic<bool> enabled{false};
}  // namespace detail

namespace {
std::unique_ptr<Event[]> g_events;
size_t g_capacity = 0;
std::atomic<size_t> g_count{0};
}  // namespace

void enable(size_t capacity) {
  g_events = std::make_unique<Event[]>(capacity);
  g_capacity = capacity;
  g_count = 0;
  detail::enabled.store(true, std::memory_order_release);
}

void detail::record(Step step) {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  size_t i = g_count.fetch_add(1, std::memory_order_relaxed);
  if (i < g_capacity) g_events[i] = {t.tv_sec * 1'000'000'000LL + t.tv_nsec, step};
}

std::vector<Event> events() {
  size_t n = std::min(g_count.load(), g_capacity);
  return {g_events.get(), g_events.get() + n};
}

}  // namespace amalgam::fault_trace
