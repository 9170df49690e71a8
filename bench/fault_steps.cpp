#include "fault_steps.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace amalgam::bench {

namespace {

std::vector<fault_trace::Event> sorted(std::vector<fault_trace::Event> events) {
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.ns < b.ns; });
  return events;
}

// The first `step` in [from, to], or -1.
int64_t first_after(const std::vector<fault_trace::Event>& events, int64_t from, int64_t to, fault_trace::Step step) {
  auto it = std::lower_bound(events.begin(), events.end(), from, [](const auto& e, int64_t t) { return e.ns < t; });
  for (; it != events.end() && it->ns <= to; ++it)
    if (it->step == step) return it->ns;
  return -1;
}

}  // namespace

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

StepMedians step_medians(const std::vector<std::pair<int64_t, int64_t>>& windows,
                         const std::vector<fault_trace::Event>& requester, const std::vector<fault_trace::Event>& home,
                         const std::vector<Milestone>& milestones, const std::string& last_step) {
  auto by_time_r = sorted(requester), by_time_h = sorted(home);
  std::vector<std::vector<double>> steps(milestones.size() + 1);
  StepMedians out;
  for (auto [begin, end] : windows) {
    std::vector<int64_t> at{begin};
    for (const auto& m : milestones) {
      int64_t t = first_after(m.side == Side::Requester ? by_time_r : by_time_h, at.back(), end, m.step);
      if (t < 0) break;
      at.push_back(t);
    }
    if (at.size() != milestones.size() + 1) continue;
    at.push_back(end);
    for (size_t i = 0; i + 1 < at.size(); ++i) steps[i].push_back(static_cast<double>(at[i + 1] - at[i]) / 1000.0);
    ++out.windows;
  }
  for (size_t i = 0; i < milestones.size(); ++i) out.steps_us.emplace_back(milestones[i].name, quantile(steps[i], 0.5));
  out.steps_us.emplace_back(last_step, quantile(steps.back(), 0.5));
  return out;
}

std::string StepMedians::json() const {
  std::string s = fmt::format(R"({{"windows": {})", windows);
  for (const auto& [name, us] : steps_us) s += fmt::format(R"(, "{}_us": {:.2f})", name, us);
  return s + "}";
}

}  // namespace amalgam::bench
