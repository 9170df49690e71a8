// The simulator passes the protocol, is deterministic, and fails broken ones.
#include <gtest/gtest.h>

#include "dsm/simulator.hpp"

using namespace amalgam::dsm;

TEST(DsmSimulator, PassesAndIsDeterministic) {
  for (uint32_t nodes = 2; nodes <= 8; ++nodes) {
    SimConfig c{.seed = 1000 + nodes, .nodes = nodes, .pages = 3, .events = 5000};
    SimResult a = simulate(c);
    ASSERT_TRUE(a.passed()) << to_string(a.outcome) << ": " << a.detail << "\n" << replay_command(c);
    SimResult b = simulate(c);
    EXPECT_EQ(a.steps, b.steps);
    EXPECT_EQ(a.reads, b.reads);
    EXPECT_EQ(a.writes, b.writes);
    EXPECT_EQ(a.totals.messages_sent, b.totals.messages_sent);
    EXPECT_GE(a.events, c.events);
    EXPECT_GT(a.writes, 0u);
  }
}

namespace {
// The first failing seed of a mutant, within a bound.
SimResult first_failure(Mutation mutation) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SimConfig c{.seed = seed, .nodes = 2 + static_cast<uint32_t>(seed % 5), .pages = 2, .events = 5000,
                .mutation = mutation};
    SimResult r = simulate(c);
    if (!r.passed()) return r;
  }
  return SimResult{};
}
}  // namespace

TEST(DsmSimulator, CatchesAWriterThatSkipsAnInvalidationAck) {
  SimResult r = first_failure(Mutation::SkipOneInvalidationAck);
  EXPECT_EQ(r.outcome, SimResult::Outcome::Incoherent) << r.detail;
}

TEST(DsmSimulator, CatchesAnOwnerThatDoesNotDowngrade) {
  SimResult r = first_failure(Mutation::NoDowngradeOnForward);
  EXPECT_FALSE(r.passed());
}

TEST(DsmSimulator, RejectsTooFewNodes) {
  EXPECT_THROW(simulate(SimConfig{.nodes = 1}), std::invalid_argument);
}

TEST(DsmSimulator, PassesWithPrefetch) {
  uint64_t prefetches = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SimConfig c{.seed = seed, .nodes = 2 + static_cast<uint32_t>(seed % 4), .pages = 8, .events = 4000,
                .prefetch = 1 + static_cast<uint32_t>(seed % 3)};
    SimResult r = simulate(c);
    ASSERT_TRUE(r.passed()) << to_string(r.outcome) << ": " << r.detail << "\n" << replay_command(c);
    prefetches += r.totals.prefetches;
  }
  EXPECT_GT(prefetches, 0u);  // some layouts put neighbouring pages on one home
}

TEST(DsmSimulator, PassesWithFirstTouchClaims) {
  uint64_t claims = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SimConfig c{.seed = seed, .nodes = 2 + static_cast<uint32_t>(seed % 4), .pages = 8, .events = 4000,
                .prefetch = static_cast<uint32_t>(seed % 2), .claim = 1 + static_cast<uint32_t>(seed % 5)};
    SimResult r = simulate(c);
    ASSERT_TRUE(r.passed()) << to_string(r.outcome) << ": " << r.detail << "\n" << replay_command(c);
    claims += r.totals.claims;
  }
  EXPECT_GT(claims, 0u);
}

// Duplicates and drops break the transport the protocol assumes; a run with
// them must end in a detection (a rejected message) or stuck (a lost one),
// never in corruption, and one seed gives the same run every time.
TEST(DsmSimulator, DetectsDuplicatedMessages) {
  SimConfig c{.seed = 17, .nodes = 4, .pages = 3, .events = 5000};
  SimResult clean = simulate(c);
  ASSERT_TRUE(clean.passed()) << to_string(clean.outcome) << ": " << clean.detail << "\n" << replay_command(c);
  EXPECT_EQ(clean.faults(), 0u);
  EXPECT_GT(clean.reordered, 0u);  // reordering needs no injection

  c.duplicate = 0.01;
  SimResult r = simulate(c);
  EXPECT_GT(r.duplicated, 0u);
  EXPECT_EQ(r.dropped, 0u);
  EXPECT_EQ(r.outcome, SimResult::Outcome::ProtocolError) << r.detail << "\n" << replay_command(c);
  SimResult again = simulate(c);
  EXPECT_EQ(again.steps, r.steps);
  EXPECT_EQ(again.duplicated, r.duplicated);
  EXPECT_EQ(again.detail, r.detail);
  EXPECT_NE(replay_command(c).find("--duplicate 0.01"), std::string::npos);
}

TEST(DsmSimulator, ADroppedMessageLeavesTheRunStuck) {
  SimConfig c{.seed = 17, .nodes = 4, .pages = 3, .events = 5000, .drop = 0.01};
  SimResult r = simulate(c);
  EXPECT_GT(r.dropped, 0u);
  EXPECT_EQ(r.outcome, SimResult::Outcome::Stuck) << r.detail << "\n" << replay_command(c);
  EXPECT_NE(replay_command(c).find("--drop 0.01"), std::string::npos);
}

TEST(DsmSimulator, RejectsAFaultProbabilityOutsideZeroToOne) {
  EXPECT_THROW(simulate(SimConfig{.duplicate = 1.5}), std::invalid_argument);
  EXPECT_THROW(simulate(SimConfig{.drop = -0.1}), std::invalid_argument);
}
