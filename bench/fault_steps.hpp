// Where the time of a measured fault goes: splits each timed access into
// steps at milestones that the DSM engine and the transport of both nodes
// mark (common/fault_trace.hpp), and gives the median of each step.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/fault_trace.hpp"

namespace amalgam::bench {

enum class Side { Requester, Home };

// A milestone: the first `step` on `side` after the previous milestone.
struct Milestone {
  const char* name;  // of the step that ends here, e.g. "request_to_home"
  Side side;
  fault_trace::Step step;
};

// The q-quantile of v (the element at q x size once sorted); 0 if v is empty.
double quantile(std::vector<double> v, double q);

struct StepMedians {
  size_t windows = 0;  // accesses in which every milestone was found
  std::vector<std::pair<std::string, double>> steps_us;  // per milestone, then `last_step`
  std::string json() const;
};

// `windows`: [begin, end] of each access in CLOCK_MONOTONIC ns. Each
// window's steps run from its begin through the milestones to its end
// (the step named `last_step`); a window missing a milestone is left out.
StepMedians step_medians(const std::vector<std::pair<int64_t, int64_t>>& windows,
                         const std::vector<fault_trace::Event>& requester, const std::vector<fault_trace::Event>& home,
                         const std::vector<Milestone>& milestones, const std::string& last_step);

}  // namespace amalgam::bench
