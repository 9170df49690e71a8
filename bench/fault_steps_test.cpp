#include "fault_steps.hpp"

#include <gtest/gtest.h>

namespace amalgam::bench {
namespace {

using fault_trace::Event;
using fault_trace::Step;

const std::vector<Milestone> kMilestones = {
    {"to_fault_thread", Side::Requester, Step::FaultThreadWakes},
    {"request_to_home", Side::Home, Step::FramesArrived},
    {"grant_to_requester", Side::Requester, Step::FramesArrived},
};

TEST(FaultSteps, SplitsEachWindowAtTheFirstMilestoneAfterThePreviousOne) {
  // Window 1: [1000, 9000]. An early FramesArrived on the requester (before
  // the home's) must not count as the grant.
  std::vector<Event> requester = {{1500, Step::FaultThreadWakes}, {1600, Step::FramesArrived},
                                  {6000, Step::FramesArrived}, {11500, Step::FaultThreadWakes},
                                  {14000, Step::FramesArrived}};
  std::vector<Event> home = {{4000, Step::FramesArrived}, {12500, Step::FramesArrived}};
  auto m = step_medians({{1000, 9000}, {11000, 15000}}, requester, home, kMilestones, "to_the_end");
  ASSERT_EQ(m.windows, 2u);
  ASSERT_EQ(m.steps_us.size(), 4u);
  EXPECT_EQ(m.steps_us[0].first, "to_fault_thread");
  EXPECT_EQ(m.steps_us[3].first, "to_the_end");
  // Medians of two: the upper one. Steps 0.5/0.5, 2.5/1.0, 2.0/1.5, 3.0/1.0 us.
  EXPECT_DOUBLE_EQ(m.steps_us[0].second, 0.5);
  EXPECT_DOUBLE_EQ(m.steps_us[1].second, 2.5);
  EXPECT_DOUBLE_EQ(m.steps_us[2].second, 2.0);
  EXPECT_DOUBLE_EQ(m.steps_us[3].second, 3.0);
}

TEST(FaultSteps, LeavesOutAWindowMissingAMilestone) {
  std::vector<Event> requester = {{1500, Step::FaultThreadWakes}, {3000, Step::FramesArrived}};
  // The home's arrival falls after the window's end.
  std::vector<Event> home = {{9500, Step::FramesArrived}};
  auto m = step_medians({{1000, 9000}}, requester, home, kMilestones, "to_the_end");
  EXPECT_EQ(m.windows, 0u);
  EXPECT_EQ(m.json(), R"({"windows": 0, "to_fault_thread_us": 0.00, "request_to_home_us": 0.00, )"
                      R"("grant_to_requester_us": 0.00, "to_the_end_us": 0.00})");
}

}  // namespace
}  // namespace amalgam::bench
