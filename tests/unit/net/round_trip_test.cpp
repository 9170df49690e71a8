// The figures of a round-trip measurement, from known samples.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

#include "net/round_trip.hpp"

using namespace amalgam::net;

TEST(RoundTripFigures, MedianP99MinAndMaxOfShuffledSamples) {
  std::vector<uint64_t> samples(200);
  std::iota(samples.begin(), samples.end(), 1);  // 1 .. 200 ns
  std::shuffle(samples.begin(), samples.end(), std::mt19937(42));
  RoundTripStats s = summarize_round_trips(samples);
  EXPECT_EQ(s.iterations, 200u);
  EXPECT_EQ(s.median_ns, 101u);  // the upper of the two middle samples
  EXPECT_EQ(s.p99_ns, 199u);
  EXPECT_EQ(s.min_ns, 1u);
  EXPECT_EQ(s.max_ns, 200u);
}

TEST(RoundTripFigures, OneSampleIsEveryFigure) {
  RoundTripStats s = summarize_round_trips({7});
  EXPECT_EQ(s.median_ns, 7u);
  EXPECT_EQ(s.p99_ns, 7u);
  EXPECT_EQ(s.min_ns, 7u);
  EXPECT_EQ(s.max_ns, 7u);
}

TEST(RoundTripFigures, NoSamplesIsRefused) { EXPECT_THROW(summarize_round_trips({}), std::invalid_argument); }
